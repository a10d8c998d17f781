#include "workers/engine/quant/dynamic.h"

#include <array>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/quant/quantizer_internal.h"

namespace mp::quant {
namespace {

using ir::Graph;
using ir::NodeId;
using ir::ValueId;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

struct Site {
  NodeId node;
  Tensor weight;  // float32 [K, N] (Gemm transB=1 transposed)
  std::string weight_name;
  ValueId bias;  // Gemm C or kNoValue
};

// Gemm/MatMul that QuantizeDynamic rewrites (see dynamic.h), or nullopt.
std::optional<Site> Eligible(const Graph& g, NodeId id) {
  const ir::Node& n = g.node(id);
  if (!n.domain().empty() || (n.op_type() != "MatMul" && n.op_type() != "Gemm"))
    return std::nullopt;
  const ValueId a = n.input(0), b = n.input(1);
  if (!a.valid() || g.value(a).is_constant() || !b.valid() || !g.value(b).is_constant()) {
    return std::nullopt;
  }
  const Tensor& w = g.value(b).initializer();
  if (w.dtype() != DType::kFloat32 || w.rank() != 2) return std::nullopt;
  Site site{.node = id, .weight = w, .weight_name = g.value(b).name(), .bias = ir::kNoValue};
  if (n.op_type() == "MatMul") return site;
  auto alpha = n.GetFloat("alpha", 1.0f);
  auto beta = n.GetFloat("beta", 1.0f);
  auto trans_a = n.GetInt("transA", 0);
  auto trans_b = n.GetInt("transB", 0);
  if (!alpha.ok() || !beta.ok() || !trans_a.ok() || !trans_b.ok()) return std::nullopt;
  if (*alpha != 1.0f || *trans_a != 0) return std::nullopt;
  if (n.input(2).valid()) {
    if (*beta != 1.0f) return std::nullopt;
    site.bias = n.input(2);
  }
  if (*trans_b != 0) {
    const int64_t rows = w.shape().dim(0), cols = w.shape().dim(1);
    Tensor t = Tensor::Zeros(DType::kFloat32, Shape({cols, rows}));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        t.mutable_data<float>()[c * rows + r] = w.data<float>()[r * cols + c];
      }
    }
    site.weight = t;
  }
  return site;
}

}  // namespace

absl::StatusOr<QuantizeResult> QuantizeDynamic(const ir::Model& model,
                                               const DynamicOptions& options) {
  const std::optional<int64_t> opset = model.OpsetVersion("");
  if (!opset || *opset < 11) {
    return absl::UnimplementedError(StrCat("model opset ", opset ? *opset : 0,
                                           " is below 11, which has no DynamicQuantizeLinear"));
  }
  QuantizeResult result;
  result.model = model;
  NameNodes(result.model.graph);
  Graph& g = result.model.graph;
  RETURN_IF_ERROR(internal::CheckNotQuantized(g));
  std::vector<Site> sites;
  for (int i = 0; i < g.num_nodes(); ++i) {
    auto site = Eligible(g, NodeId{i});
    if (site && !options.exclude.contains(g.node(NodeId{i}).name())) sites.push_back(*site);
  }
  // One DynamicQuantizeLinear per activation: value -> (x_q, x_scale, x_zero_point).
  absl::flat_hash_map<ValueId, std::array<ValueId, 3>> dq;
  std::vector<NodeId> replaced;
  for (const Site& site : sites) {
    const ir::Node& n = g.node(site.node);
    const std::string layer = n.name();
    const ValueId x = n.input(0), y = n.output(0);
    if (!dq.contains(x)) {
      const std::string base = g.value(x).name();
      const ValueId xq = g.AddValue(g.UniqueValueName(base + "_quantized"), DType::kUint8);
      const ValueId xs = g.AddValue(g.UniqueValueName(base + "_scale"), DType::kFloat32);
      const ValueId xz = g.AddValue(g.UniqueValueName(base + "_zero_point"), DType::kUint8);
      g.AddNode({.name = g.UniqueValueName(base + "_DynamicQuantizeLinear"),
                 .op_type = "DynamicQuantizeLinear",
                 .inputs = {x},
                 .outputs = {xq, xs, xz}});
      dq[x] = {xq, xs, xz};
    }
    const auto [xq, xs, xz] = dq.at(x);
    ASSIGN_OR_RETURN(QuantizedWeight w, QuantizeWeight(site.weight, options.per_channel ? 1 : -1,
                                                       options.reduce_range, site.weight_name));
    const ValueId wq = g.AddInitializer(g.UniqueValueName(site.weight_name + "_quantized"), w.data);
    const ValueId ws = g.AddInitializer(g.UniqueValueName(site.weight_name + "_scale"),
                                        internal::ScaleTensor(w.scales, options.per_channel));
    const std::string out = g.value(y).name();
    const ValueId acc = g.AddValue(g.UniqueValueName(out + "_int32"), DType::kInt32);
    const ValueId accf = g.AddValue(g.UniqueValueName(out + "_int32_float"), DType::kFloat32);
    const ValueId scale = g.AddValue(g.UniqueValueName(out + "_scale"), DType::kFloat32);
    g.AddNode({.name = g.UniqueValueName(layer + "_MatMulInteger"),
               .op_type = "MatMulInteger",
               .inputs = {xq, wq, xz},
               .outputs = {acc}});
    g.AddNode({.name = g.UniqueValueName(layer + "_Cast"),
               .op_type = "Cast",
               .inputs = {acc},
               .outputs = {accf},
               .attributes = {ir::Attribute("to", int64_t{1})}});
    g.AddNode({.name = g.UniqueValueName(layer + "_scale_Mul"),
               .op_type = "Mul",
               .inputs = {xs, ws},
               .outputs = {scale}});
    const ValueId bias = site.bias;
    replaced.push_back(site.node);
    // The original node gives up its output; the new tail produces it.
    const ValueId orphan = g.AddValue(g.UniqueValueName(out + "_fp32"), DType::kFloat32);
    g.SetNodeOutput(site.node, 0, orphan);
    if (bias.valid()) {
      const ValueId scaled = g.AddValue(g.UniqueValueName(out + "_scaled"), DType::kFloat32);
      g.AddNode({.name = g.UniqueValueName(layer + "_output_Mul"),
                 .op_type = "Mul",
                 .inputs = {accf, scale},
                 .outputs = {scaled}});
      g.AddNode({.name = g.UniqueValueName(layer + "_bias_Add"),
                 .op_type = "Add",
                 .inputs = {scaled, bias},
                 .outputs = {y}});
    } else {
      g.AddNode({.name = g.UniqueValueName(layer + "_output_Mul"),
                 .op_type = "Mul",
                 .inputs = {accf, scale},
                 .outputs = {y}});
    }
    result.layers.push_back(layer);
    result.tensors.push_back({.kind = QuantizedTensor::Kind::kWeight,
                              .name = site.weight_name,
                              .dequantized = "",
                              .layer = layer,
                              .params = {w.scales[0], 0, DType::kInt8},
                              .scales = w.scales,
                              .axis = options.per_channel ? 1 : -1,
                              .sqnr_db = w.sqnr_db,
                              .mse = w.mse});
  }
  g.RemoveNodes(replaced);
  RETURN_IF_ERROR(internal::FinishRewrite(g, "dynamic graph"));
  return result;
}

}  // namespace mp::quant
