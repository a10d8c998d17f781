#include "workers/engine/train/qat.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"

namespace mp::train {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

// The quantizer's carried tensors (quantizer.h "Carried tensors"): output codes = input codes.
bool Carries(std::string_view op) {
  return op == "MaxPool" || op == "Reshape" || op == "Flatten" || op == "Transpose" ||
         op == "Squeeze" || op == "Unsqueeze";
}

// The power of two at or above the width of the range widened to include 0 (1 for an empty
// one): bounds divided by it are exact and O(1).
float BoundUnit(quant::Range r) {
  const float width = std::max(r.max, 0.0f) - std::min(r.min, 0.0f);
  if (!(width > 0) || !std::isfinite(width)) return 1.0f;
  return std::ldexp(1.0f, static_cast<int>(std::ceil(std::log2(width))));
}

Tensor Scalar(float v) { return Tensor::FromVector<float>(Shape(), {v}); }

// Inserts `op(v, extra...)` and makes every node that read `v` read its output instead.
void Wrap(ir::Graph& g, ir::ValueId v, std::string_view op, std::vector<ir::ValueId> extra,
          std::vector<ir::Attribute> attrs) {
  const std::vector<ir::Use> uses = g.value(v).uses();
  const std::string base = g.value(v).name();
  const ir::ValueId y =
      g.AddValue(g.UniqueValueName(base + "_qat"), DType::kFloat32,
                 g.value(v).is_constant() ? ir::PartialShape::Of(g.value(v).initializer().shape())
                                          : g.value(v).shape());
  std::vector<ir::ValueId> inputs = {v};
  inputs.insert(inputs.end(), extra.begin(), extra.end());
  g.AddNode({.name = g.UniqueValueName(StrCat(base, "_", op)),
             .op_type = std::string(op),
             .domain = std::string(kQatDomain),
             .inputs = std::move(inputs),
             .outputs = {y},
             .attributes = std::move(attrs)});
  for (const ir::Use& u : uses) g.SetNodeInput(u.node, u.input_index, y);
}

}  // namespace

absl::StatusOr<QatModel> InsertFakeQuant(const ir::Model& fp32,
                                         const quant::RangeMap& initial_ranges,
                                         const QatOptions& options) {
  QatModel out;
  out.model = fp32;
  quant::NameNodes(out.model.graph);
  for (const ir::Node& n : out.model.graph.nodes()) {
    if (n.domain() == kQatDomain) {
      return absl::InvalidArgumentError(
          StrCat(n.Describe(), ": the model already has fake-quantization nodes"));
    }
  }
  ASSIGN_OR_RETURN(quant::QuantizeResult q,
                   quant::QuantizeStatic(out.model, initial_ranges, options.quantizer));
  if (q.layers.empty()) {
    return absl::InvalidArgumentError(
        "quantization-aware training: the quantizer selects no layer of this model with these "
        "ranges");
  }
  ir::Graph& g = out.model.graph;
  absl::flat_hash_set<std::string> quantized;
  for (const quant::QuantizedTensor& t : q.tensors) {
    if (t.kind == quant::QuantizedTensor::Kind::kActivation) quantized.insert(t.name);
  }
  const std::string scheme = quant::ActivationSchemeName(options.quantizer.activations);
  for (const quant::QuantizedTensor& t : q.tensors) {
    if (t.kind == quant::QuantizedTensor::Kind::kBias) continue;
    const ir::ValueId v = g.FindValue(t.name);
    if (!v.valid()) {
      return absl::InternalError(
          StrCat("quantizer named '", t.name, "', which is not a value of the model"));
    }
    if (t.kind == quant::QuantizedTensor::Kind::kWeight) {
      Wrap(g, v, kFakeQuantizeWeightOp, {},
           {ir::Attribute("axis", int64_t{t.axis}),
            ir::Attribute("reduce_range", int64_t{options.quantizer.reduce_range ? 1 : 0})});
      out.weights.push_back(t.name);
      continue;
    }
    const ir::NodeId producer = g.value(v).producer();
    if (producer.valid() && Carries(g.node(producer).op_type()) &&
        g.node(producer).num_inputs() > 0 && g.node(producer).input(0).valid() &&
        quantized.contains(g.value(g.node(producer).input(0)).name())) {
      continue;
    }
    const quant::Range r = initial_ranges.at(t.name);
    if (!std::isfinite(r.min) || !std::isfinite(r.max) || r.min > r.max) {
      return absl::InvalidArgumentError(StrCat("range of '", t.name, "' is [", r.min, ", ", r.max,
                                               "]: expected finite min <= max"));
    }
    const float unit = options.normalized_bounds ? BoundUnit(r) : 1.0f;
    const ir::ValueId lo =
        g.AddInitializer(g.UniqueValueName(t.name + "_qat_lo"), Scalar(r.min / unit));
    const ir::ValueId hi =
        g.AddInitializer(g.UniqueValueName(t.name + "_qat_hi"), Scalar(r.max / unit));
    Wrap(g, v, kFakeQuantizeOp, {lo, hi},
         {ir::Attribute("scheme", scheme), ir::Attribute("unit", unit)});
    out.activations.push_back(t.name);
  }
  bool imported = false;
  for (const ir::OpsetImport& o : out.model.opset_imports) imported |= o.domain == kQatDomain;
  if (!imported) out.model.opset_imports.push_back({std::string(kQatDomain), 1});
  RETURN_IF_ERROR(g.SortNodesTopologically());
  RETURN_IF_ERROR(Annotate(ir::Verify(g), "fake-quantized graph (internal error)"));
  return out;
}

absl::StatusOr<QatResult> RemoveFakeQuant(const ir::Model& trained) {
  QatResult out;
  out.model = trained;
  ir::Graph& g = out.model.graph;
  std::vector<ir::NodeId> nodes;
  std::vector<std::string> dropped;  // values of the removed nodes' outputs and bounds
  for (const ir::Node& n : g.nodes()) {
    if (n.domain() != kQatDomain) continue;
    const bool act = n.op_type() == kFakeQuantizeOp;
    if ((!act && n.op_type() != kFakeQuantizeWeightOp) || n.num_inputs() != (act ? 3 : 1) ||
        n.num_outputs() != 1 || !n.input(0).valid() || !n.output(0).valid()) {
      return absl::InvalidArgumentError(
          StrCat(n.Describe(), ": not a FakeQuantize(x, lo, hi) / FakeQuantizeWeight(w) node"));
    }
    const ir::ValueId x = n.input(0), y = n.output(0);
    if (g.IsGraphOutput(y)) {
      return absl::InvalidArgumentError(StrCat(n.Describe(), ": its output is a graph output"));
    }
    if (act) {
      auto unit = n.GetFloat("unit", 1.0f);
      if (!unit.ok() || !(*unit > 0) || !std::isfinite(*unit)) {
        return absl::InvalidArgumentError(
            StrCat(n.Describe(), ": attribute unit must be a finite float > 0"));
      }
      float b[2] = {0, 0};
      for (int k = 0; k < 2; ++k) {
        const ir::ValueId bv = n.input(k + 1);
        const bool ok = bv.valid() && g.value(bv).is_constant() &&
                        g.value(bv).initializer().dtype() == DType::kFloat32 &&
                        g.value(bv).initializer().num_elements() == 1 &&
                        std::isfinite(g.value(bv).initializer().data<float>()[0]);
        if (!ok) {
          return absl::InvalidArgumentError(StrCat(n.Describe(), ": ", k == 0 ? "lo" : "hi",
                                                   " is not a finite float32 scalar initializer"));
        }
        b[k] = *unit * g.value(bv).initializer().data<float>()[0];
        if (g.value(bv).uses().size() == 1) dropped.push_back(g.value(bv).name());
      }
      out.ranges[g.value(x).name()] = {std::min(b[0], 0.0f), std::max(b[1], 0.0f)};
    }
    g.ReplaceAllUsesWith(y, x);
    nodes.push_back(n.id());
    dropped.push_back(g.value(y).name());
  }
  g.RemoveNodes(nodes);
  std::vector<ir::ValueId> values;
  for (const std::string& name : dropped) {
    const ir::ValueId v = g.FindValue(name);
    if (v.valid() && g.value(v).uses().empty() && !g.value(v).producer().valid() &&
        !g.IsGraphInput(v) && !g.IsGraphOutput(v)) {
      values.push_back(v);
    }
  }
  g.RemoveValues(values);
  std::erase_if(out.model.opset_imports,
                [](const ir::OpsetImport& o) { return o.domain == kQatDomain; });
  RETURN_IF_ERROR(g.SortNodesTopologically());
  RETURN_IF_ERROR(Annotate(ir::Verify(g), "graph without fake quantization"));
  return out;
}

}  // namespace mp::train
