#include "workers/engine/quant/quantizer.h"

#include <algorithm>
#include <utility>

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

Tensor ScalarOf(DType type, int32_t v) {
  Tensor t = Tensor::Zeros(type, Shape());
  if (type == DType::kUint8) t.mutable_data<uint8_t>()[0] = static_cast<uint8_t>(v);
  if (type == DType::kInt8) t.mutable_data<int8_t>()[0] = static_cast<int8_t>(v);
  if (type == DType::kInt32) t.mutable_data<int32_t>()[0] = v;
  return t;
}

using internal::ScaleTensor;

// Adds `DequantizeLinear(data, scale, zero)` reading new initializers; returns its output.
ValueId AddDequantize(Graph& g, const std::string& base, Tensor data, Tensor scale, Tensor zero,
                      int axis) {
  const ValueId q = g.AddInitializer(g.UniqueValueName(base + "_quantized"), std::move(data));
  const ValueId s = g.AddInitializer(g.UniqueValueName(base + "_scale"), std::move(scale));
  const ValueId z = g.AddInitializer(g.UniqueValueName(base + "_zero_point"), std::move(zero));
  const ValueId out = g.AddValue(g.UniqueValueName(base + "_dequantized"), DType::kFloat32);
  ir::NodeSpec spec{.name = g.UniqueValueName(base + "_DequantizeLinear"),
                    .op_type = "DequantizeLinear",
                    .inputs = {q, s, z},
                    .outputs = {out}};
  if (axis >= 0) spec.attributes.emplace_back("axis", int64_t{axis});
  g.AddNode(std::move(spec));
  return out;
}

class Quantizer {
 public:
  Quantizer(ir::Model model, const RangeMap& ranges, const QuantizerOptions& options)
      : model_(std::move(model)), g_(model_.graph), ranges_(ranges), options_(options) {}

  absl::StatusOr<QuantizeResult> Run();

 private:
  bool Selected(const std::string& name) const {
    if (options_.exclude.contains(name)) return false;
    return !options_.only || options_.only->contains(name);
  }
  QParams OwnParams(ValueId v) const {
    return ActivationQParams(ranges_.at(g_.value(v).name()), options_.activations);
  }
  void Request(ValueId v, QParams p, bool override_existing = false);
  void PlanOutput(const internal::LayerPlan& plan);
  void PropagateCarriers();
  absl::Status QuantizeConstants(const internal::LayerPlan& plan);
  void InsertActivationPair(ValueId v, const QParams& p, const std::string& fp32_name);

  ir::Model model_;
  Graph& g_;
  const RangeMap& ranges_;
  const QuantizerOptions& options_;
  bool per_channel_ = true;
  std::vector<internal::LayerPlan> layers_;
  // Requested activations, in request order, and their parameters.
  std::vector<ValueId> order_;
  absl::flat_hash_map<ValueId, QParams> requests_;
  // Fused activations: the layer output T1 -> the activation output T2 it stands for.
  std::vector<std::pair<ValueId, ValueId>> aliases_;
  QuantizeResult result_;
};

void Quantizer::Request(ValueId v, QParams p, bool override_existing) {
  auto [it, inserted] = requests_.try_emplace(v, p);
  if (inserted) {
    order_.push_back(v);
  } else if (override_existing) {
    it->second = p;
  }
}

void Quantizer::PlanOutput(const internal::LayerPlan& plan) {
  const ir::Node& n = g_.node(plan.node);
  const ValueId t1 = n.output(0);
  if (!plan.quantize_output) return;
  const std::vector<ir::Use>& uses = g_.value(t1).uses();
  if (uses.size() == 1) {
    const ir::Node& act = g_.node(uses[0].node);
    const auto bounds = internal::ClampBounds(g_, act);
    const ValueId t2 = act.output(0);
    if (bounds && uses[0].input_index == 0 && t2.valid() && !g_.IsGraphOutput(t2) &&
        ranges_.contains(g_.value(t2).name())) {
      const QParams p = OwnParams(t2);
      if (p.representable_min() >= bounds->first &&
          p.representable_max() <= bounds->second + 0.25f * p.scale) {
        Request(t2, p);
        aliases_.emplace_back(t1, t2);
        result_.fused_activations.push_back(act.name());
        return;
      }
    }
  }
  Request(t1, OwnParams(t1));
}

void Quantizer::PropagateCarriers() {
  for (int i = 0; i < g_.num_nodes(); ++i) {
    const ir::Node& n = g_.node(NodeId{i});
    if (!n.domain().empty() || n.num_inputs() < 1 || n.num_outputs() < 1) continue;
    const ValueId in = n.input(0), out = n.output(0);
    if (!in.valid() || !out.valid() || !requests_.contains(in) || g_.IsGraphOutput(out)) continue;
    if (!ranges_.contains(g_.value(out).name())) continue;
    if (internal::CarriesSameParams(n.op_type())) {
      Request(out, requests_.at(in), /*override_existing=*/true);
    } else if (internal::ClampBounds(g_, n)) {
      bool fused = false;
      for (const auto& [t1, t2] : aliases_) fused |= t2 == out;
      if (!fused) Request(out, OwnParams(out));
    }
  }
}

absl::Status Quantizer::QuantizeConstants(const internal::LayerPlan& plan) {
  const ir::Node& n = g_.node(plan.node);
  const std::string layer = n.name();
  if (plan.weight_input < 0) return absl::OkStatus();
  const ValueId wv = n.input(plan.weight_input);
  const std::string wname = g_.value(wv).name();
  const int axis = per_channel_ ? plan.weight_axis : -1;
  ASSIGN_OR_RETURN(QuantizedWeight w,
                   QuantizeWeight(g_.value(wv).initializer(), axis, options_.reduce_range, wname));
  const bool per_axis = axis >= 0;
  Tensor zeros = per_axis ? Tensor::Zeros(DType::kInt8, Shape({int64_t(w.scales.size())}))
                          : ScalarOf(DType::kInt8, 0);
  const ValueId wdq =
      AddDequantize(g_, wname, w.data, ScaleTensor(w.scales, per_axis), std::move(zeros), axis);
  g_.SetNodeInput(plan.node, plan.weight_input, wdq);
  result_.tensors.push_back({.kind = QuantizedTensor::Kind::kWeight,
                             .name = wname,
                             .dequantized = g_.value(wdq).name(),
                             .layer = layer,
                             .params = {w.scales[0], 0, DType::kInt8},
                             .scales = w.scales,
                             .axis = axis,
                             .sqnr_db = w.sqnr_db,
                             .mse = w.mse});
  if (plan.bias_input < 0) return absl::OkStatus();
  const ValueId x = g_.node(plan.node).input(plan.activation_inputs[0]);
  if (!requests_.contains(x)) return absl::OkStatus();
  const ValueId bv = g_.node(plan.node).input(plan.bias_input);
  const std::string bname = g_.value(bv).name();
  const Tensor& b = g_.value(bv).initializer();
  if (per_axis && static_cast<int64_t>(w.scales.size()) != b.num_elements()) {
    return absl::OkStatus();  // e.g. grouped ConvTranspose: bias stays float
  }
  ASSIGN_OR_RETURN(QuantizedBias qb, QuantizeBias(b, requests_.at(x).scale, w.scales, bname));
  if (qb.clamped > 0) {
    result_.notes.push_back(
        StrCat("bias '", bname, "': ", qb.clamped, " values clamped to the int32 range"));
  }
  std::vector<float> deq(static_cast<size_t>(b.num_elements()));
  for (size_t i = 0; i < deq.size(); ++i) {
    deq[i] = float(qb.data.data<int32_t>()[i]) * qb.scales[qb.scales.size() == 1 ? 0 : i];
  }
  ErrorStats err;
  err.Add(b.span<float>(), deq);
  Tensor bzeros = per_axis ? Tensor::Zeros(DType::kInt32, Shape({b.num_elements()}))
                           : ScalarOf(DType::kInt32, 0);
  const ValueId bdq = AddDequantize(g_, bname, qb.data, ScaleTensor(qb.scales, per_axis),
                                    std::move(bzeros), per_axis ? 0 : -1);
  g_.SetNodeInput(plan.node, plan.bias_input, bdq);
  result_.tensors.push_back({.kind = QuantizedTensor::Kind::kBias,
                             .name = bname,
                             .dequantized = g_.value(bdq).name(),
                             .layer = layer,
                             .params = {qb.scales[0], 0, DType::kInt32},
                             .scales = qb.scales,
                             .axis = per_axis ? 0 : -1,
                             .sqnr_db = err.sqnr_db(),
                             .mse = err.mse()});
  return absl::OkStatus();
}

void Quantizer::InsertActivationPair(ValueId v, const QParams& p, const std::string& fp32_name) {
  const std::vector<ir::Use> uses = g_.value(v).uses();
  const std::string base = g_.value(v).name();
  const ir::PartialShape shape = g_.value(v).shape();
  const ValueId s = g_.AddInitializer(g_.UniqueValueName(base + "_scale"),
                                      Tensor::FromVector<float>(Shape(), {p.scale}));
  const ValueId z =
      g_.AddInitializer(g_.UniqueValueName(base + "_zero_point"), ScalarOf(p.type, p.zero_point));
  const ValueId q = g_.AddValue(g_.UniqueValueName(base + "_quantized"), p.type, shape);
  const ValueId dq = g_.AddValue(g_.UniqueValueName(base + "_dequantized"), DType::kFloat32, shape);
  g_.AddNode({.name = g_.UniqueValueName(base + "_QuantizeLinear"),
              .op_type = "QuantizeLinear",
              .inputs = {v, s, z},
              .outputs = {q}});
  g_.AddNode({.name = g_.UniqueValueName(base + "_DequantizeLinear"),
              .op_type = "DequantizeLinear",
              .inputs = {q, s, z},
              .outputs = {dq}});
  for (const ir::Use& u : uses) g_.SetNodeInput(u.node, u.input_index, dq);
  result_.tensors.push_back({.kind = QuantizedTensor::Kind::kActivation,
                             .name = fp32_name,
                             .dequantized = g_.value(dq).name(),
                             .params = p});
}

absl::StatusOr<QuantizeResult> Quantizer::Run() {
  const std::optional<int64_t> opset = model_.OpsetVersion("");
  if (!opset || *opset < 10) {
    return absl::UnimplementedError(
        StrCat("model opset ", opset ? *opset : 0, " is below 10, which has no QuantizeLinear"));
  }
  RETURN_IF_ERROR(internal::CheckNotQuantized(g_));
  per_channel_ = options_.per_channel && *opset >= 13;
  if (options_.per_channel && !per_channel_) {
    result_.notes.push_back(
        StrCat("opset ", *opset, " < 13 has no per-axis DequantizeLinear: weights per tensor"));
  }
  for (int i = 0; i < g_.num_nodes(); ++i) {
    auto plan = internal::AnalyzeLayer(g_, NodeId{i}, ranges_);
    if (plan && Selected(g_.node(NodeId{i}).name())) layers_.push_back(*plan);
  }
  for (const internal::LayerPlan& plan : layers_) {
    result_.layers.push_back(g_.node(plan.node).name());
    for (int slot : plan.activation_inputs) {
      const ValueId v = g_.node(plan.node).input(slot);
      Request(v, OwnParams(v));
    }
  }
  for (const internal::LayerPlan& plan : layers_) PlanOutput(plan);
  PropagateCarriers();
  // Fused activations: the layer output takes the activation output's place and parameters.
  std::vector<std::string> fp32_names(static_cast<size_t>(g_.num_values()));
  for (int i = 0; i < g_.num_values(); ++i) fp32_names[size_t(i)] = g_.value(ValueId{i}).name();
  for (const auto& [t1, t2] : aliases_) {
    g_.ReplaceAllUsesWith(t2, t1);
    Request(t1, requests_.at(t2), /*override_existing=*/true);
    fp32_names[size_t(t1.index)] = fp32_names[size_t(t2.index)];
    requests_.erase(t2);
    order_.erase(std::find(order_.begin(), order_.end(), t2));
  }
  for (const internal::LayerPlan& plan : layers_) RETURN_IF_ERROR(QuantizeConstants(plan));
  for (ValueId v : order_) InsertActivationPair(v, requests_.at(v), fp32_names[size_t(v.index)]);
  RETURN_IF_ERROR(internal::FinishRewrite(g_, "quantized graph"));
  result_.model = std::move(model_);
  return std::move(result_);
}

}  // namespace

absl::StatusOr<QuantizeResult> QuantizeStatic(const ir::Model& model, const RangeMap& ranges,
                                              const QuantizerOptions& options) {
  ir::Model copy = model;
  NameNodes(copy.graph);
  Quantizer quantizer(std::move(copy), ranges, options);
  return quantizer.Run();
}

}  // namespace mp::quant
