// modelpress models | show-model ID | datasets
#include <algorithm>

#include "client/commands.h"
#include "client/format.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

namespace {

std::string Shape(const v1::TensorInfo& t) {
  std::string s = "[";
  for (int i = 0; i < t.dims_size(); ++i) {
    if (i > 0) s += ", ";
    if (t.dims(i) >= 0) {
      s += std::to_string(t.dims(i));
    } else {
      s += (i < t.dim_params_size() && !t.dim_params(i).empty()) ? t.dim_params(i) : "?";
    }
  }
  return s + "]";
}

std::string DTypeName(v1::DataType dtype) {
  std::string name = v1::DataType_Name(dtype);
  if (name.rfind("DATA_TYPE_", 0) == 0) name = name.substr(10);
  return name;
}

}  // namespace

absl::Status ModelsCommand(const ListOptions& options, CommandEnv& env) {
  v1::ListModelsResponse all;
  std::string token;
  do {
    v1::ListModelsRequest request;
    request.set_page_size(std::min(options.limit - all.models_size(), 1000));
    request.set_page_token(token);
    v1::ListModelsResponse page;
    auto context = env.conn->Context();
    RETURN_IF_ERROR(
        FromGrpc(env.conn->models().ListModels(context.get(), request, &page), "list models"));
    for (auto& m : *page.mutable_models()) *all.add_models() = std::move(m);
    token = page.next_page_token();
  } while (!token.empty() && all.models_size() < options.limit);
  if (env.json) {
    PrintJson(all, *env.out);
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "SIZE", "OPSET", "PARAMS", "CREATED"}};
  for (const auto& m : all.models()) {
    const bool inspected = m.has_inspection() && m.inspection().opset() > 0;
    rows.push_back({m.id(), m.name(), FormatBytes(m.blob().size_bytes()),
                    inspected ? std::to_string(m.inspection().opset()) : "-",
                    inspected ? std::to_string(m.inspection().parameter_count()) : "-",
                    FormatTime(m.created_unix_ms())});
  }
  PrintTable(rows, *env.out);
  return absl::OkStatus();
}

absl::Status ShowModelCommand(const std::string& id, CommandEnv& env) {
  v1::GetModelRequest request;
  request.set_id(id);
  v1::Model m;
  auto context = env.conn->Context();
  RETURN_IF_ERROR(
      FromGrpc(env.conn->models().GetModel(context.get(), request, &m), mp::StrCat("model ", id)));
  if (env.json) {
    PrintJson(m, *env.out);
    return absl::OkStatus();
  }
  std::ostream& out = *env.out;
  out << "model " << m.id() << "  " << m.name() << "\n"
      << "size " << FormatBytes(m.blob().size_bytes()) << "  sha256 " << m.blob().sha256() << "\n"
      << "created " << FormatTime(m.created_unix_ms()) << "  inspect job "
      << (m.inspect_job_id().empty() ? "-" : m.inspect_job_id()) << "\n";
  if (!m.has_inspection() || m.inspection().opset() == 0) {
    out << "not inspected yet\n";
    return absl::OkStatus();
  }
  const v1::ModelInspection& in = m.inspection();
  out << "ir_version " << in.ir_version() << "  opset " << in.opset() << "  parameters "
      << in.parameter_count() << "\n";
  std::vector<std::vector<std::string>> io = {{"", "NAME", "DTYPE", "SHAPE"}};
  for (const auto& t : in.inputs())
    io.push_back({"input", t.name(), DTypeName(t.dtype()), Shape(t)});
  for (const auto& t : in.outputs()) {
    io.push_back({"output", t.name(), DTypeName(t.dtype()), Shape(t)});
  }
  PrintTable(io, out);
  std::vector<std::pair<std::string, int64_t>> ops(in.op_counts().begin(), in.op_counts().end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::string op_line = "ops:";
  for (const auto& [op, n] : ops) op_line += mp::StrCat(" ", op, ":", n);
  out << op_line << "\n";
  if (in.unsupported_ops_size() > 0) {
    std::string line = "unsupported ops:";
    for (const auto& op : in.unsupported_ops()) line += " " + op;
    out << line << "\n";
  }
  return absl::OkStatus();
}

absl::Status DatasetsCommand(const ListOptions& options, CommandEnv& env) {
  v1::ListDatasetsResponse all;
  std::string token;
  do {
    v1::ListDatasetsRequest request;
    request.set_page_size(std::min(options.limit - all.datasets_size(), 1000));
    request.set_page_token(token);
    v1::ListDatasetsResponse page;
    auto context = env.conn->Context();
    RETURN_IF_ERROR(FromGrpc(env.conn->datasets().ListDatasets(context.get(), request, &page),
                             "list datasets"));
    for (auto& d : *page.mutable_datasets()) *all.add_datasets() = std::move(d);
    token = page.next_page_token();
  } while (!token.empty() && all.datasets_size() < options.limit);
  if (env.json) {
    PrintJson(all, *env.out);
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "FORMAT", "SIZE", "CREATED"}};
  for (const auto& d : all.datasets()) {
    rows.push_back({d.id(), d.name(), d.format(), FormatBytes(d.blob().size_bytes()),
                    FormatTime(d.created_unix_ms())});
  }
  PrintTable(rows, *env.out);
  return absl::OkStatus();
}

}  // namespace mp::client
