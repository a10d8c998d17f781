#include "workers/local/run_command.h"

#include <filesystem>
#include <set>
#include <utility>

#include "common/status.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::local {
namespace {

using tensor::DType;
using tensor::Tensor;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

absl::StatusOr<Tensor> LoadTensor(const std::string& path, DType declared) {
  if (EndsWith(path, ".npy")) {
    data::NpyReadOptions options;
    options.float64_to_float32 = declared == DType::kFloat32;
    return data::ReadNpy(path, options);
  }
  if (EndsWith(path, ".pb")) {
    ASSIGN_OR_RETURN(onnx::NamedTensor t, onnx::ReadTensorFile(path));
    return t.tensor;
  }
  return absl::InvalidArgumentError(
      StrCat("input file '", path, "': unknown file type (expected .npy or .pb)"));
}

struct Binding {
  size_t input = 0;  // index into session inputs()
  std::string path;
};

absl::StatusOr<std::vector<Binding>> BindInputs(const std::vector<exec::IoInfo>& inputs,
                                                const std::vector<std::string>& args) {
  std::vector<Binding> bindings;
  std::vector<bool> bound(inputs.size(), false);
  std::vector<std::string> positional;
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    size_t k = inputs.size();
    if (eq != std::string::npos) {
      const std::string name = arg.substr(0, eq);
      for (k = 0; k < inputs.size() && inputs[k].name != name; ++k) {
      }
    }
    if (k == inputs.size()) {
      positional.push_back(arg);
      continue;
    }
    if (bound[k]) {
      return absl::InvalidArgumentError(StrCat("input '", inputs[k].name, "' is given twice"));
    }
    bound[k] = true;
    bindings.push_back({k, arg.substr(eq + 1)});
  }
  size_t next = 0;
  for (const std::string& path : positional) {
    while (next < inputs.size() && bound[next]) ++next;
    if (next == inputs.size()) {
      return absl::InvalidArgumentError(StrCat("input file '", path, "': the model has only ",
                                               inputs.size(), " input(s), all already bound"));
    }
    bound[next] = true;
    bindings.push_back({next, path});
  }
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!bound[k]) {
      return absl::InvalidArgumentError(
          StrCat("missing input '", inputs[k].name, "': pass --input ", inputs[k].name, "=FILE"));
    }
  }
  return bindings;
}

}  // namespace

std::string SanitizeFileName(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out == "." || out == ".." || out[0] == '.') out = "_" + out;
  if (out.size() > 200) out.resize(200);
  return out;
}

absl::Status RunModelCommand(const RunCommandOptions& options, std::ostream& log) {
  if (options.model_path.empty()) return absl::InvalidArgumentError("--model is required");
  if (options.output_dir.empty()) return absl::InvalidArgumentError("--output-dir is required");
  ASSIGN_OR_RETURN(ir::Model model, onnx::ImportModelFile(options.model_path));
  absl::StatusOr<std::unique_ptr<exec::Session>> session =
      exec::Session::Create(std::move(model), {.num_threads = options.threads});
  if (!session.ok()) return Annotate(session.status(), StrCat("model '", options.model_path, "'"));
  const std::vector<exec::IoInfo>& inputs = (*session)->inputs();
  ASSIGN_OR_RETURN(std::vector<Binding> bindings, BindInputs(inputs, options.inputs));
  exec::NamedTensors feeds;
  for (const Binding& b : bindings) {
    const exec::IoInfo& io = inputs[b.input];
    absl::StatusOr<Tensor> t = LoadTensor(b.path, io.dtype);
    if (!t.ok()) return Annotate(t.status(), StrCat("input '", io.name, "'"));
    feeds.emplace_back(io.name, *std::move(t));
  }
  absl::StatusOr<exec::NamedTensors> outputs = (*session)->Run(feeds);
  if (!outputs.ok()) {
    // Name the file too when the message names an input.
    std::string message(outputs.status().message());
    for (const Binding& b : bindings) {
      const std::string prefix = StrCat("input '", inputs[b.input].name, "'");
      if (message.rfind(prefix, 0) == 0) {
        message = StrCat(prefix, " (", b.path, ")", message.substr(prefix.size()));
        break;
      }
    }
    return absl::Status(outputs.status().code(), message);
  }
  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        StrCat("output directory '", options.output_dir, "': ", ec.message()));
  }
  std::set<std::string> used;
  for (const auto& [name, t] : *outputs) {
    std::string stem = SanitizeFileName(name);
    for (int k = 1; used.count(stem) != 0; ++k) stem = StrCat(SanitizeFileName(name), "_", k);
    used.insert(stem);
    const std::string path = (std::filesystem::path(options.output_dir) / (stem + ".npy")).string();
    absl::Status status = data::WriteNpy(path, t);
    if (!status.ok()) return Annotate(status, StrCat("output '", name, "'"));
    log << "wrote " << path << " " << t.DebugString() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace mp::local
