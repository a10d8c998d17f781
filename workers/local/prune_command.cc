#include "workers/local/prune_command.h"

#include <cstdio>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/prune/prune.h"

namespace mp::local {
namespace {

using nlohmann::json;

absl::StatusOr<prune::LayerTargets> ParsePerLayer(const std::vector<std::string>& items) {
  prune::LayerTargets out;
  for (const std::string& item : items) {
    const size_t eq = item.rfind('=');
    double s = 0;
    char extra = 0;
    if (eq == std::string::npos || eq == 0 ||
        std::sscanf(item.c_str() + eq + 1, "%lf%c", &s, &extra) != 1) {
      return absl::InvalidArgumentError(
          StrCat("--per-layer '", item, "': expected NAME=SPARSITY, e.g. conv1=0.3"));
    }
    out.emplace_back(item.substr(0, eq), s);
  }
  return out;
}

json StatsJson(const prune::ModelStats& s) {
  json layers = json::array();
  for (const prune::LayerStats& l : s.layers) {
    layers.push_back({{"layer", l.layer},
                      {"op_type", l.op_type},
                      {"macs", l.macs},
                      {"weights", l.weights},
                      {"sparsity", l.sparsity()}});
  }
  return {{"macs", s.macs},
          {"parameters", s.parameters},
          {"parameter_bytes", s.parameter_bytes},
          {"zero_parameters", s.zero_parameters},
          {"layers", layers}};
}

json MaskJson(const prune::MaskResult& r) {
  json layers = json::array();
  for (const prune::LayerSparsity& l : r.layers) {
    layers.push_back({{"layer", l.layer},
                      {"weights", l.weights},
                      {"pruned", l.pruned},
                      {"sparsity", l.sparsity()},
                      {"skipped", l.skipped}});
  }
  return {
      {"weights", r.weights}, {"pruned", r.pruned}, {"sparsity", r.sparsity()}, {"layers", layers}};
}

// Runs the chosen method on `model`; returns its per-layer JSON.
absl::StatusOr<json> Prune(const PruneCommandOptions& o, ir::Model* model) {
  ASSIGN_OR_RETURN(prune::LayerTargets per_layer, ParsePerLayer(o.per_layer));
  if (o.method == "structured") {
    if (o.norm != "l1" && o.norm != "l2") {
      return absl::InvalidArgumentError(StrCat("--norm '", o.norm, "': expected l1 or l2"));
    }
    ASSIGN_OR_RETURN(
        prune::StructuredPlan plan,
        prune::PlanStructured(*model, {.ratio = o.sparsity,
                                       .norm = o.norm == "l1" ? prune::Norm::kL1 : prune::Norm::kL2,
                                       .round_to = o.round_to,
                                       .per_layer = per_layer,
                                       .exclude = o.exclude}));
    RETURN_IF_ERROR(prune::ApplyStructured(plan, prune::ApplyMode::kRemove, model));
    json layers = json::array();
    for (const prune::StructuredLayerReport& r : prune::SummarizePlan(plan)) {
      layers.push_back(
          {{"layer", r.layer}, {"channels", r.channels}, {"kept", r.kept}, {"skipped", r.skipped}});
    }
    return json{{"layers", layers}};
  }
  if (o.method == "magnitude") {
    if (o.scope != "layer" && o.scope != "global") {
      return absl::InvalidArgumentError(
          StrCat("--scope '", o.scope, "': expected layer or global"));
    }
    ASSIGN_OR_RETURN(prune::MaskResult r,
                     prune::MagnitudePrune({.scope = o.scope == "layer" ? prune::Scope::kPerLayer
                                                                        : prune::Scope::kGlobal,
                                            .sparsity = o.sparsity,
                                            .per_layer = per_layer,
                                            .exclude = o.exclude},
                                           model));
    return MaskJson(r);
  }
  if (o.method == "nm") {
    int n = 0, m = 0;
    char extra = 0;
    if (std::sscanf(o.nm.c_str(), "%d:%d%c", &n, &m, &extra) != 2) {
      return absl::InvalidArgumentError(StrCat("--nm '", o.nm, "': expected N:M, e.g. 2:4"));
    }
    ASSIGN_OR_RETURN(prune::MaskResult r,
                     prune::NmPrune({.n = n, .m = m, .exclude = o.exclude}, model));
    return MaskJson(r);
  }
  return absl::InvalidArgumentError(
      StrCat("--method '", o.method, "': expected structured, magnitude or nm"));
}

}  // namespace

CLI::App* AddPruneSubcommand(CLI::App& app, PruneCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand("prune", "Prune a model (structured, magnitude or N:M)");
  cmd->add_option("--model", o.model_path, "fp32 ONNX model")->required();
  cmd->add_option("--method", o.method, "structured, magnitude or nm");
  cmd->add_option("--sparsity", o.sparsity, "Fraction of channels / weights removed, in [0, 1)");
  cmd->add_option("--norm", o.norm, "structured: filter norm, l1 or l2");
  cmd->add_option("--scope", o.scope, "magnitude: layer or global");
  cmd->add_option("--per-layer", o.per_layer, "NAME=SPARSITY override; repeatable");
  cmd->add_option("--exclude", o.exclude, "Layer left unpruned; repeatable");
  cmd->add_option("--nm", o.nm, "nm: N:M, e.g. 2:4");
  cmd->add_option("--round-to", o.round_to, "structured: kept channels rounded up to a multiple");
  cmd->add_option("-o,--output", o.output_path, "Output model")->required();
  cmd->add_option("--report", o.report_path, "JSON report");
  return cmd;
}

absl::Status PruneCommand(const PruneCommandOptions& o, std::ostream& out) {
  if (o.output_path.empty()) return absl::InvalidArgumentError("-o: an output path is required");
  ASSIGN_OR_RETURN(ir::Model model, onnx::ImportModelFile(o.model_path));
  ASSIGN_OR_RETURN(prune::ModelStats before, prune::ComputeStats(model));
  ASSIGN_OR_RETURN(json layers, Prune(o, &model));
  ASSIGN_OR_RETURN(prune::ModelStats after, prune::ComputeStats(model));
  RETURN_IF_ERROR(onnx::ExportModelFile(model, o.output_path));
  if (!o.report_path.empty()) {
    json report = {{"model", o.model_path},     {"method", o.method},
                   {"sparsity", o.sparsity},    {"norm", o.norm},
                   {"scope", o.scope},          {"nm", o.nm},
                   {"round_to", o.round_to},    {"per_layer", o.per_layer},
                   {"exclude", o.exclude},      {"before", StatsJson(before)},
                   {"after", StatsJson(after)}, {"pruning", layers}};
    RETURN_IF_ERROR(AtomicWriteFile(o.report_path, report.dump(2) + "\n"));
  }
  auto pct = [](int64_t a, int64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f%%", b == 0 ? 0.0 : 100.0 * (1.0 - double(a) / double(b)));
    return std::string(buf);
  };
  out << "wrote " << o.output_path << "\n"
      << "  macs " << before.macs << " -> " << after.macs << " (-" << pct(after.macs, before.macs)
      << ")\n"
      << "  parameter_bytes " << before.parameter_bytes << " -> " << after.parameter_bytes << " (-"
      << pct(after.parameter_bytes, before.parameter_bytes) << ")\n"
      << "  zero_parameters " << before.zero_parameters << " -> " << after.zero_parameters << "\n";
  return absl::OkStatus();
}

}  // namespace mp::local
