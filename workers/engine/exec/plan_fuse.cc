// Epilogue fusion: see FuseEpilogues in plan.h.
//
// Each fused pattern saves one full pass over its intermediate tensor (a read and a write
// of a batch of activations, e.g. 12.8 MB for 64 x 14 x 14 floats at batch 256), which is
// what an elementwise step costs once activations no longer fit in cache.
#include <limits>
#include <string>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/plan.h"

namespace mp::exec::internal {
namespace {

// The only node reading `id`, when it is a step of this plan and `id` is an intermediate
// (an arena value read by exactly one input slot); otherwise null.
const ir::Node* SoleConsumer(const ir::Graph& graph, const Plan& plan,
                             const std::vector<int>& step_of_node, ir::ValueId id) {
  const ir::Value& v = graph.value(id);
  if (plan.values[static_cast<size_t>(id.index)].storage != Storage::kArena) return nullptr;
  if (v.uses().size() != 1) return nullptr;
  const ir::Node& node = graph.node(v.uses()[0].node);
  if (step_of_node[static_cast<size_t>(node.id().index)] < 0) return nullptr;
  return &node;
}

bool IsFloat(const Plan& plan, ir::ValueId id) {
  return id.valid() && plan.values[static_cast<size_t>(id.index)].dtype == DType::kFloat32;
}

// The clamp bounds of a Relu, or of a Clip whose bounds are attributes or plan constants;
// false for anything else.
bool ClampBounds(const PlanInputs& in, const Plan& plan, const ir::Node& node, float* lo,
                 float* hi) {
  if (!IsFloat(plan, node.output(0))) return false;
  if (node.op_type() == "Relu" && node.num_inputs() == 1) {
    *lo = 0.0f;
    *hi = std::numeric_limits<float>::infinity();
    return true;
  }
  if (node.op_type() != "Clip") return false;
  *lo = std::numeric_limits<float>::lowest();
  *hi = std::numeric_limits<float>::max();
  if (in.opset < 11) {
    absl::StatusOr<float> min = node.GetFloat("min", *lo);
    absl::StatusOr<float> max = node.GetFloat("max", *hi);
    if (!min.ok() || !max.ok()) return false;
    *lo = *min;
    *hi = *max;
    return true;
  }
  for (int i = 1; i < node.num_inputs() && i <= 2; ++i) {
    if (!node.input(i).valid()) continue;
    const ValueSlot& s = plan.values[static_cast<size_t>(node.input(i).index)];
    if (s.storage != Storage::kConstant || s.dtype != DType::kFloat32 ||
        s.constant.num_elements() != 1) {
      return false;
    }
    (i == 1 ? *lo : *hi) = s.constant.data<float>()[0];
  }
  return true;
}

// The operand of Add `node` other than `id` when it can be added in the epilogue of step
// `step`: same float type and shape as `id`, and available when that step runs.
ir::ValueId Residual(const ir::Graph& graph, const Plan& plan, const std::vector<int>& step_of_node,
                     const ir::Node& node, ir::ValueId id, int step) {
  if (node.op_type() != "Add" || node.num_inputs() != 2) return {};
  const ir::ValueId other = node.input(0) == id ? node.input(1) : node.input(0);
  if (!other.valid() || other == id || !(node.input(0) == id || node.input(1) == id)) return {};
  const ValueSlot& a = plan.values[static_cast<size_t>(id.index)];
  const ValueSlot& b = plan.values[static_cast<size_t>(other.index)];
  if (!IsFloat(plan, other) || !IsFloat(plan, node.output(0)) || !(a.shape == b.shape)) return {};
  if (b.storage == Storage::kFeed || b.storage == Storage::kConstant) return other;
  if (b.storage != Storage::kArena && b.storage != Storage::kOutput) return {};
  const ir::NodeId producer = graph.value(other).producer();
  if (!producer.valid()) return {};
  const int producer_step = step_of_node[static_cast<size_t>(producer.index)];
  return producer_step >= 0 && producer_step < step ? other : ir::ValueId{};
}

}  // namespace

absl::Status FuseEpilogues(const PlanInputs& in, Plan& plan, std::vector<int>& step_of_node) {
  const ir::Graph& graph = *in.graph;
  std::vector<bool> removed(plan.steps.size(), false);
  for (size_t k = 0; k < plan.steps.size(); ++k) {
    Step& step = plan.steps[k];
    if (removed[k] || graph.node(step.node).op_type() != "Conv" || step.outputs.size() != 1 ||
        !IsFloat(plan, step.outputs[0])) {
      continue;
    }
    ir::ValueId out = step.outputs[0];
    std::vector<const ir::Node*> absorbed;
    ir::ValueId residual;
    float lo = -std::numeric_limits<float>::infinity();
    float hi = std::numeric_limits<float>::infinity();
    const ir::Node* next = SoleConsumer(graph, plan, step_of_node, out);
    if (next != nullptr) {
      residual = Residual(graph, plan, step_of_node, *next, out, static_cast<int>(k));
      if (residual.valid()) {
        absorbed.push_back(next);
        next = SoleConsumer(graph, plan, step_of_node, next->output(0));
      }
    }
    if (next != nullptr && ClampBounds(in, plan, *next, &lo, &hi)) absorbed.push_back(next);
    if (absorbed.empty()) continue;
    if (!FuseConvEpilogue(*step.kernel, residual.valid(), lo, hi)) continue;
    if (residual.valid()) {
      step.inputs.resize(3);  // x, w, optional bias
      step.inputs.push_back(residual);
    }
    for (const ir::Node* node : absorbed) {
      plan.values[static_cast<size_t>(out.index)].storage = Storage::kNone;
      out = node->output(0);
      const int s = step_of_node[static_cast<size_t>(node->id().index)];
      removed[static_cast<size_t>(s)] = true;
      step.label = StrCat(step.label, "+", node->op_type());
    }
    step.outputs = {out};
  }
  std::vector<Step> kept;
  for (size_t k = 0; k < plan.steps.size(); ++k) {
    if (removed[k]) {
      step_of_node[static_cast<size_t>(plan.steps[k].node.index)] = -1;
      continue;
    }
    step_of_node[static_cast<size_t>(plan.steps[k].node.index)] = static_cast<int>(kept.size());
    kept.push_back(std::move(plan.steps[k]));
  }
  plan.steps = std::move(kept);
  return absl::OkStatus();
}

}  // namespace mp::exec::internal
