// GradGraph::Create: validation, the variable / gradient-flow analysis, parameters, state.
#include <algorithm>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/train/grad_graph.h"
#include "workers/engine/train/grad_graph_internal.h"
#include "workers/engine/train/rules.h"

namespace mp::train {
namespace {

using internal::HasBit;
using internal::IsShapeOnly;
using internal::Rule;
using internal::RuleTable;
using tensor::DType;
using tensor::Tensor;

}  // namespace

absl::StatusOr<std::unique_ptr<GradGraph>> GradGraph::Create(const ir::Model& model,
                                                             GradGraphOptions options) {
  if (options.num_threads < 1 || options.num_threads > 1024) {
    return absl::InvalidArgumentError(
        StrCat("num_threads must be in [1, 1024], got ", options.num_threads));
  }
  std::unique_ptr<GradGraph> gg(new GradGraph());
  gg->model_ = model;
  gg->options_ = options;
  const std::optional<int64_t> opset = model.OpsetVersion("");
  if (!opset.has_value()) {
    return absl::InvalidArgumentError("model imports no default-domain (ai.onnx) opset");
  }
  gg->opset_ = *opset;
  ir::Graph& graph = gg->model_.graph;
  RETURN_IF_ERROR(ir::Verify(graph));
  RETURN_IF_ERROR(graph.SortNodesTopologically());
  if (graph.outputs().empty()) return absl::InvalidArgumentError("graph has no outputs");
  const size_t num_values = static_cast<size_t>(graph.num_values());
  const size_t num_nodes = static_cast<size_t>(graph.num_nodes());

  for (ir::ValueId id : graph.inputs()) {
    const ir::Value& v = graph.value(id);
    if (v.is_constant()) continue;
    if (v.dtype() != DType::kFloat32 && v.dtype() != DType::kUndefined) {
      return absl::UnimplementedError(StrCat("input '", v.name(), "' is ",
                                             tensor::DTypeName(v.dtype()),
                                             ": training supports float32 models only"));
    }
    gg->feeds_.push_back(id);
    gg->feed_info_.push_back({v.name(), v.dtype(), v.shape()});
  }
  for (ir::ValueId id : graph.outputs()) gg->outputs_.push_back(id);
  for (const std::string& name : options.extra_outputs) {
    const ir::ValueId id = graph.FindValue(name);
    if (!id.valid()) {
      return absl::InvalidArgumentError(
          StrCat("extra output '", name, "' is not a value of the graph"));
    }
    gg->outputs_.push_back(id);
  }
  for (const std::string& name : options.frozen) {
    const ir::ValueId id = graph.FindValue(name);
    if (!id.valid() || !graph.value(id).is_constant()) {
      return absl::InvalidArgumentError(
          StrCat("frozen name '", name, "' is not an initializer of the model"));
    }
  }
  auto is_frozen = [&](const std::string& name) {
    return std::find(options.frozen.begin(), options.frozen.end(), name) != options.frozen.end();
  };

  // Rules, state inputs.
  const RuleTable& table = RuleTable::Default();
  std::vector<const Rule*> rule_of(num_nodes, nullptr);
  gg->state_of_value_.assign(num_values, -1);
  for (const ir::Node& node : graph.nodes()) {
    const Rule* rule = table.Find(node.domain(), node.op_type());
    rule_of[static_cast<size_t>(node.id().index)] = rule;
    if (rule == nullptr) continue;
    for (int i = 0; i < node.num_inputs(); ++i) {
      if (!HasBit(rule->state_inputs, i) || !node.input(i).valid()) continue;
      const ir::Value& v = graph.value(node.input(i));
      if (!v.is_constant() || v.initializer().dtype() != DType::kFloat32) {
        return exec::Unimplemented(
            node, StrCat("input ", i, " ('", v.name(), "') must be a float32 initializer"));
      }
      if (gg->state_of_value_[static_cast<size_t>(v.id().index)] >= 0) continue;
      gg->state_of_value_[static_cast<size_t>(v.id().index)] = static_cast<int>(gg->state_.size());
      gg->state_.push_back(v.initializer().Clone());
      gg->state_values_.push_back(v.id());
    }
  }

  // Which values can vary (depend on a feed or a candidate parameter).
  auto propagate = [&](const std::vector<bool>& sources) {
    std::vector<bool> var = sources;
    for (const ir::Node& node : graph.nodes()) {
      if (IsShapeOnly(node.op_type())) continue;
      bool any = false;
      for (ir::ValueId in : node.inputs()) {
        if (in.valid() && var[static_cast<size_t>(in.index)]) any = true;
      }
      for (ir::ValueId out : node.outputs()) {
        if (out.valid()) var[static_cast<size_t>(out.index)] = any;
      }
    }
    return var;
  };
  std::vector<bool> sources(num_values, false);
  for (ir::ValueId id : gg->feeds_) sources[static_cast<size_t>(id.index)] = true;
  for (const ir::Value& v : graph.values()) {
    if (v.is_constant() && v.initializer().dtype() == DType::kFloat32 && !is_frozen(v.name()) &&
        gg->state_of_value_[static_cast<size_t>(v.id().index)] < 0) {
      sources[static_cast<size_t>(v.id().index)] = true;
    }
  }
  std::vector<bool> var = propagate(sources);
  // Gradient flow from the outputs back through differentiable slots.
  std::vector<bool> need(num_values, false);
  for (ir::ValueId id : gg->outputs_)
    need[static_cast<size_t>(id.index)] = var[static_cast<size_t>(id.index)];
  for (int n = graph.num_nodes() - 1; n >= 0; --n) {
    const ir::Node& node = graph.nodes()[static_cast<size_t>(n)];
    const Rule* rule = rule_of[static_cast<size_t>(n)];
    if (rule == nullptr) continue;
    bool any_out = false;
    for (ir::ValueId out : node.outputs()) {
      if (out.valid() && need[static_cast<size_t>(out.index)]) any_out = true;
    }
    if (!any_out) continue;
    for (int i = 0; i < node.num_inputs(); ++i) {
      const ir::ValueId in = node.input(i);
      if (in.valid() && HasBit(rule->differentiable_inputs, i) &&
          var[static_cast<size_t>(in.index)]) {
        need[static_cast<size_t>(in.index)] = true;
      }
    }
  }
  // Parameters: candidate initializers that receive a gradient, in first-use order.
  gg->param_of_value_.assign(num_values, -1);
  std::vector<bool> param_sources(num_values, false);
  for (ir::ValueId id : gg->feeds_) param_sources[static_cast<size_t>(id.index)] = true;
  for (const ir::Node& node : graph.nodes()) {
    const Rule* rule = rule_of[static_cast<size_t>(node.id().index)];
    for (int i = 0; i < node.num_inputs(); ++i) {
      const ir::ValueId in = node.input(i);
      if (!in.valid()) continue;
      const size_t vi = static_cast<size_t>(in.index);
      if (!sources[vi] || !need[vi] || param_sources[vi]) continue;
      if (!graph.value(in).is_constant()) continue;  // a feed
      param_sources[vi] = true;
      gg->param_of_value_[vi] = static_cast<int>(gg->parameters_.size());
      Parameter p;
      p.name = graph.value(in).name();
      p.value = graph.value(in).initializer().Clone();
      p.grad = Tensor::Zeros(DType::kFloat32, p.value.shape());
      p.decay = !(rule != nullptr && HasBit(rule->no_decay_inputs, i)) && p.value.rank() > 1;
      gg->parameters_.push_back(std::move(p));
    }
  }
  gg->variable_ = propagate(param_sources);
  // Gradients are needed on paths from parameters (and from feeds when asked) to outputs.
  std::vector<bool> from_grad_sources(num_values, false);
  for (size_t v = 0; v < num_values; ++v) {
    from_grad_sources[v] = gg->param_of_value_[v] >= 0;
  }
  if (options.input_gradients) {
    for (ir::ValueId id : gg->feeds_) from_grad_sources[static_cast<size_t>(id.index)] = true;
  }
  from_grad_sources = propagate(from_grad_sources);
  gg->needs_grad_.assign(num_values, false);
  for (size_t v = 0; v < num_values; ++v) {
    gg->needs_grad_[v] = need[v] && gg->variable_[v] && from_grad_sources[v];
  }

  // Every node computing from variable values needs a rule (Shape/Size excepted).
  gg->rules_.assign(num_nodes, nullptr);
  for (const ir::Node& node : graph.nodes()) {
    bool any = false;
    for (ir::ValueId in : node.inputs()) {
      if (in.valid() && gg->variable_[static_cast<size_t>(in.index)]) any = true;
    }
    const Rule* rule = rule_of[static_cast<size_t>(node.id().index)];
    // A private-domain op always runs its own forward (exec has no kernel for it), even on
    // constant inputs, so it keeps its rule.
    const bool private_op = rule != nullptr && !rule->domain.empty();
    if ((!any && !private_op) || IsShapeOnly(node.op_type())) continue;
    if (rule == nullptr) {
      const std::string op = node.domain().empty() || node.domain() == "ai.onnx"
                                 ? node.op_type()
                                 : StrCat(node.domain(), ".", node.op_type());
      return absl::UnimplementedError(
          StrCat(node.Describe(), ": op ", op, " has no backward rule"));
    }
    if (!private_op) {
      RETURN_IF_ERROR(exec::OpRegistry::Default().Lookup(node, gg->opset_).status());
    }
    if (rule->validate != nullptr) RETURN_IF_ERROR(rule->validate(node, gg->opset_));
    gg->rules_[static_cast<size_t>(node.id().index)] = rule;
  }
  gg->pool_ = std::make_unique<kernels::ThreadPool>(options.num_threads);
  return gg;
}

}  // namespace mp::train
