// GET /models and /models/<id>: the tenant's models and what inspection found in them.
#include <map>
#include <string>

#include "common/str_cat.h"
#include "server/dashboard/html.h"
#include "server/dashboard/routes.h"

namespace mp::dashboard {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

std::string Dims(const v1::TensorInfo& t) {
  std::string out = "[";
  for (int i = 0; i < t.dims_size(); ++i) {
    if (i > 0) out += ", ";
    const bool symbolic = t.dims(i) < 0;
    if (symbolic && i < t.dim_params_size() && !t.dim_params(i).empty()) {
      out += html::Escape(t.dim_params(i));
    } else if (symbolic) {
      out += "?";
    } else {
      out += std::to_string(t.dims(i));
    }
  }
  return out + "]";
}

std::string TensorTable(std::string_view title,
                        const google::protobuf::RepeatedPtrField<v1::TensorInfo>& tensors) {
  std::string out =
      StrCat("<h2>", title, "</h2><table><tr><th>name</th><th>type</th>", "<th>shape</th></tr>");
  for (const v1::TensorInfo& t : tensors) {
    std::string dtype = v1::DataType_Name(t.dtype());
    if (dtype.rfind("DATA_TYPE_", 0) == 0) dtype = dtype.substr(10);
    if (dtype.empty()) dtype = StrCat("type ", static_cast<int>(t.dtype()));
    out += StrCat("<tr><td>", html::Escape(t.name()), "</td><td>", dtype, "</td><td>", Dims(t),
                  "</td></tr>");
  }
  return out + "</table>";
}

}  // namespace

HttpResponse ModelsPage(const RouteContext& ctx) {
  int page_size = kDefaultPageSize;
  if (std::optional<std::string> size = ctx.target.Get("page_size"); size && !size->empty()) {
    const bool digits =
        size->size() <= 4 && size->find_first_not_of("0123456789") == std::string::npos;
    page_size = digits ? std::stoi(*size) : 0;
    if (page_size < 1 || page_size > kMaxPageSize) {
      return HtmlError(
          absl::InvalidArgumentError(StrCat("query parameter 'page_size': '", *size,
                                            "' is not an integer in [1, ", kMaxPageSize, "]")));
    }
  }
  const std::string token = ctx.target.Get("page_token").value_or("");
  absl::StatusOr<store::Page<v1::Model>> page = ctx.data.ListModels(ctx.tenant, page_size, token);
  if (!page.ok()) return HtmlError(page.status());

  std::string body =
      "<table><tr><th>id</th><th>name</th><th>size</th><th>created</th><th>parameters</th>"
      "<th>unsupported ops</th></tr>";
  for (const v1::Model& m : page->items) {
    const bool inspected = m.has_inspection();
    body += StrCat("<tr><td><a href=\"/models/", html::Escape(UrlEncode(m.id())), "\">",
                   html::Escape(m.id()), "</a></td><td>", html::Escape(m.name()),
                   "</td><td class=\"num\">", html::FormatBytes(m.blob().size_bytes()), "</td><td>",
                   html::FormatTime(m.created_unix_ms()), "</td><td class=\"num\">",
                   inspected ? std::to_string(m.inspection().parameter_count()) : "-",
                   "</td><td class=\"num\">",
                   inspected ? std::to_string(m.inspection().unsupported_ops_size()) : "-",
                   "</td></tr>");
  }
  body += "</table>";
  if (page->items.empty()) body += "<p>No models.</p>";
  if (!page->next_page_token.empty()) {
    body += StrCat("<p><a href=\"",
                   html::Escape(StrCat("/models?page_size=", page_size,
                                       "&page_token=", UrlEncode(page->next_page_token))),
                   "\">next page &rarr;</a></p>");
  }
  return HtmlResponse(200, html::Page("Models", body));
}

HttpResponse ModelPage(const RouteContext& ctx, std::string_view model_id) {
  absl::StatusOr<v1::Model> got = ctx.data.GetModel(ctx.tenant, model_id);
  if (!got.ok()) return HtmlError(got.status());
  const v1::Model& m = *got;
  std::string body = StrCat(
      "<table><tr><th>name</th><td>", html::Escape(m.name()), "</td></tr><tr><th>size</th><td>",
      html::FormatBytes(m.blob().size_bytes()), "</td></tr><tr><th>sha256</th><td><code>",
      html::Escape(m.blob().sha256()), "</code></td></tr><tr><th>created</th><td>",
      html::FormatTime(m.created_unix_ms()), "</td></tr><tr><th>inspect job</th><td>");
  if (!m.inspect_job_id().empty()) {
    body += StrCat("<a href=\"/jobs/", html::Escape(UrlEncode(m.inspect_job_id())), "\">",
                   html::Escape(m.inspect_job_id()), "</a>");
  }
  body += "</td></tr></table>";
  if (!m.has_inspection()) {
    body += "<p>Not inspected yet.</p>";
    return HtmlResponse(200, html::Page(StrCat("Model ", m.id()), body));
  }
  const v1::ModelInspection& in = m.inspection();
  body +=
      StrCat("<h2>Inspection</h2><table><tr><th>IR version</th><td>", in.ir_version(),
             "</td></tr><tr><th>opset</th><td>", in.opset(),
             "</td></tr><tr><th>parameters</th><td>", in.parameter_count(), "</td></tr></table>");
  body += TensorTable("Inputs", in.inputs());
  body += TensorTable("Outputs", in.outputs());
  body += "<h2>Unsupported ops</h2>";
  if (in.unsupported_ops().empty()) body += "<p>None: the engine runs every op.</p>";
  if (!in.unsupported_ops().empty()) {
    body += "<ul>";
    for (const std::string& op : in.unsupported_ops()) {
      body += StrCat("<li class=\"error\">", html::Escape(op), "</li>");
    }
    body += "</ul>";
  }
  body += "<h2>Ops</h2><table><tr><th>op</th><th>nodes</th></tr>";
  const std::map<std::string, int64_t> ops(in.op_counts().begin(), in.op_counts().end());
  for (const auto& [op, count] : ops) {
    body += StrCat("<tr><td>", html::Escape(op), "</td><td class=\"num\">", count, "</td></tr>");
  }
  body += "</table>";
  return HtmlResponse(200, html::Page(StrCat("Model ", m.id()), body));
}

}  // namespace mp::dashboard
