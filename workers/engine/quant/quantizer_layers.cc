// Layer analysis for the quantizer: which nodes are layers, which inputs are activations,
// weights and biases (quantizer.h "Layers").
#include <limits>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/quant/quantizer.h"
#include "workers/engine/quant/quantizer_internal.h"

namespace mp::quant {
namespace internal {
namespace {

using ir::Graph;
using ir::Node;
using ir::ValueId;
using tensor::DType;

bool IsActivation(const Graph& g, ValueId v, const RangeMap& ranges) {
  return v.valid() && !g.value(v).is_constant() && ranges.contains(g.value(v).name());
}

bool IsFloatConstant(const Graph& g, ValueId v, int rank = -1) {
  if (!v.valid() || !g.value(v).is_constant()) return false;
  const tensor::Tensor& t = g.value(v).initializer();
  return t.dtype() == DType::kFloat32 && (rank < 0 || t.rank() == rank);
}

int64_t IntAttr(const Node& n, std::string_view name, int64_t fallback) {
  auto v = n.GetInt(name, fallback);
  return v.ok() ? *v : fallback;
}

float FloatAttr(const Node& n, std::string_view name, float fallback) {
  auto v = n.GetFloat(name, fallback);
  return v.ok() ? *v : fallback;
}

// Scalar float constant input `i`, or nullopt.
std::optional<float> ScalarInput(const Graph& g, const Node& n, int i) {
  const ValueId v = n.input(i);
  if (!IsFloatConstant(g, v) || g.value(v).initializer().num_elements() != 1) return std::nullopt;
  return g.value(v).initializer().data<float>()[0];
}

}  // namespace

std::optional<LayerPlan> AnalyzeLayer(const Graph& g, ir::NodeId id, const RangeMap& ranges) {
  const Node& n = g.node(id);
  const std::string& op = n.op_type();
  if (!n.domain().empty() || n.num_outputs() < 1) return std::nullopt;
  LayerPlan plan;
  plan.node = id;
  const ValueId out = n.output(0);
  plan.quantize_output = IsActivation(g, out, ranges) && !g.IsGraphOutput(out);
  if (op == "Conv" || op == "ConvTranspose") {
    if (!IsActivation(g, n.input(0), ranges) || !IsFloatConstant(g, n.input(1)))
      return std::nullopt;
    if (g.value(n.input(1)).initializer().rank() < 3) return std::nullopt;
    plan.activation_inputs = {0};
    plan.weight_input = 1;
    if (op == "Conv") {
      plan.weight_axis = 0;
    } else {
      plan.weight_axis = IntAttr(n, "group", 1) == 1 ? 1 : -1;
    }
    if (IsFloatConstant(g, n.input(2), 1)) plan.bias_input = 2;
    return plan;
  }
  if (op == "Gemm") {
    if (!IsActivation(g, n.input(0), ranges)) return std::nullopt;
    plan.activation_inputs = {0};
    if (IsFloatConstant(g, n.input(1), 2)) {
      plan.weight_input = 1;
      plan.weight_axis = IntAttr(n, "transB", 0) != 0 ? 0 : 1;
    } else if (IsActivation(g, n.input(1), ranges)) {
      plan.activation_inputs.push_back(1);
    } else {
      return std::nullopt;
    }
    const bool unit = FloatAttr(n, "alpha", 1.0f) == 1.0f && FloatAttr(n, "beta", 1.0f) == 1.0f;
    if (plan.weight_input == 1 && unit && IsFloatConstant(g, n.input(2), 1)) {
      const tensor::Tensor& w = g.value(n.input(1)).initializer();
      const int64_t cols = w.shape().dim(plan.weight_axis);
      if (g.value(n.input(2)).initializer().num_elements() == cols) plan.bias_input = 2;
    }
    return plan;
  }
  if (op == "MatMul") {
    if (!IsActivation(g, n.input(0), ranges)) return std::nullopt;
    plan.activation_inputs = {0};
    if (IsFloatConstant(g, n.input(1))) {
      plan.weight_input = 1;
      plan.weight_axis = g.value(n.input(1)).initializer().rank() == 2 ? 1 : -1;
    } else if (IsActivation(g, n.input(1), ranges)) {
      plan.activation_inputs.push_back(1);
    } else {
      return std::nullopt;
    }
    return plan;
  }
  if (op == "Add" || op == "Concat") {
    if (n.num_inputs() < 1) return std::nullopt;
    for (int i = 0; i < n.num_inputs(); ++i) {
      if (!IsActivation(g, n.input(i), ranges)) return std::nullopt;
      plan.activation_inputs.push_back(i);
    }
    return plan;
  }
  if (op == "GlobalAveragePool" || op == "AveragePool") {
    if (!IsActivation(g, n.input(0), ranges)) return std::nullopt;
    plan.activation_inputs = {0};
    return plan;
  }
  return std::nullopt;
}

bool CarriesSameParams(std::string_view op) {
  return op == "MaxPool" || op == "Reshape" || op == "Flatten" || op == "Transpose" ||
         op == "Squeeze" || op == "Unsqueeze";
}

std::optional<std::pair<float, float>> ClampBounds(const Graph& g, const Node& n) {
  if (!n.domain().empty()) return std::nullopt;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (n.op_type() == "Relu") return std::make_pair(0.0f, kInf);
  if (n.op_type() != "Clip") return std::nullopt;
  if (n.HasAttribute("min") || n.HasAttribute("max")) {  // opset < 11
    return std::make_pair(FloatAttr(n, "min", -kInf), FloatAttr(n, "max", kInf));
  }
  float lo = -kInf, hi = kInf;
  if (n.input(1).valid()) {
    auto v = ScalarInput(g, n, 1);
    if (!v) return std::nullopt;
    lo = *v;
  }
  if (n.input(2).valid()) {
    auto v = ScalarInput(g, n, 2);
    if (!v) return std::nullopt;
    hi = *v;
  }
  return std::make_pair(lo, hi);
}

absl::Status CheckNotQuantized(const ir::Graph& graph) {
  for (const ir::Node& n : graph.nodes()) {
    const std::string& op = n.op_type();
    if (op == "QuantizeLinear" || op == "DequantizeLinear" || op == "DynamicQuantizeLinear" ||
        op == "QLinearConv" || op == "QLinearMatMul" || op == "MatMulInteger" ||
        op == "ConvInteger") {
      return absl::UnimplementedError(StrCat(n.Describe(), ": the model is already quantized"));
    }
  }
  return absl::OkStatus();
}

tensor::Tensor ScaleTensor(const std::vector<float>& scales, bool per_axis) {
  if (!per_axis) return tensor::Tensor::FromVector<float>(tensor::Shape(), {scales[0]});
  return tensor::Tensor::FromVector<float>(tensor::Shape({int64_t(scales.size())}), scales);
}

absl::Status FinishRewrite(ir::Graph& graph, std::string_view what) {
  graph.RemoveDeadNodes();
  RETURN_IF_ERROR(graph.SortNodesTopologically());
  absl::Status verified = ir::Verify(graph);
  if (!verified.ok()) return Annotate(verified, StrCat(what, " (internal error)"));
  return absl::OkStatus();
}

}  // namespace internal

void NameNodes(ir::Graph& graph) {
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < graph.num_nodes(); ++i) {
    ir::Node& n = graph.mutable_node(ir::NodeId{i});
    if (n.name().empty() || seen.contains(n.name())) {
      std::string name = StrCat(n.op_type(), "_", i);
      while (seen.contains(name)) name += "_";
      n.set_name(name);
    }
    seen.insert(n.name());
  }
}

std::vector<Layer> FindLayers(const ir::Model& model, const RangeMap& ranges) {
  std::vector<Layer> layers;
  const ir::Graph& g = model.graph;
  for (int i = 0; i < g.num_nodes(); ++i) {
    if (internal::AnalyzeLayer(g, ir::NodeId{i}, ranges)) {
      layers.push_back({g.node(ir::NodeId{i}).name(), g.node(ir::NodeId{i}).op_type()});
    }
  }
  return layers;
}

}  // namespace mp::quant
