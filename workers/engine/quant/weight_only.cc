#include "workers/engine/quant/weight_only.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/quant/quantizer_internal.h"
#include "workers/engine/tensor/float16.h"

namespace mp::quant {
namespace {

using ir::Graph;
using ir::NodeId;
using ir::ValueId;
using tensor::DType;
using tensor::Tensor;

bool IsWeightConsumer(const ir::Node& n) {
  const std::string& op = n.op_type();
  return n.domain().empty() &&
         (op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul");
}

}  // namespace

absl::StatusOr<QuantizeResult> ConvertWeights(const ir::Model& model, DType dtype) {
  if (dtype != DType::kFloat16 && dtype != DType::kBFloat16) {
    return absl::InvalidArgumentError(
        StrCat("weight-only conversion to ", tensor::DTypeName(dtype), " is not supported"));
  }
  const std::optional<int64_t> opset = model.OpsetVersion("");
  if (dtype == DType::kBFloat16 && (!opset || *opset < 13)) {
    return absl::UnimplementedError(
        StrCat("bfloat16 weights need opset >= 13 (Cast from bfloat16); the model has opset ",
               opset ? *opset : 0));
  }
  QuantizeResult result;
  result.model = model;
  NameNodes(result.model.graph);
  Graph& g = result.model.graph;
  absl::flat_hash_map<ValueId, ValueId> converted;  // fp32 weight -> Cast output
  const int num_nodes = g.num_nodes();
  for (int i = 0; i < num_nodes; ++i) {
    if (!IsWeightConsumer(g.node(NodeId{i}))) continue;
    bool any = false;
    for (int slot = 0; slot < g.node(NodeId{i}).num_inputs(); ++slot) {
      const ValueId v = g.node(NodeId{i}).input(slot);
      if (!v.valid() || !g.value(v).is_constant()) continue;
      const Tensor& w = g.value(v).initializer();
      if (w.dtype() != DType::kFloat32 || w.num_elements() <= 1) continue;
      any = true;
      auto it = converted.find(v);
      if (it == converted.end()) {
        const std::string name = g.value(v).name();
        Tensor half = Tensor::Zeros(dtype, w.shape());
        uint16_t* h = static_cast<uint16_t*>(half.mutable_raw_data());
        const float* x = w.data<float>();
        std::vector<float> back(static_cast<size_t>(w.num_elements()));
        for (int64_t k = 0; k < w.num_elements(); ++k) {
          if (dtype == DType::kFloat16) {
            h[k] = tensor::FloatToHalf(x[k]);
            back[size_t(k)] = tensor::HalfToFloat(h[k]);
          } else {
            h[k] = tensor::FloatToBFloat16(x[k]);
            back[size_t(k)] = tensor::BFloat16ToFloat(h[k]);
          }
        }
        ErrorStats err;
        err.Add(w.span<float>(), back);
        const std::string suffix = dtype == DType::kFloat16 ? "_fp16" : "_bf16";
        const ValueId stored = g.AddInitializer(g.UniqueValueName(name + suffix), std::move(half));
        const ValueId cast =
            g.AddValue(g.UniqueValueName(name + "_float"), DType::kFloat32, g.value(v).shape());
        g.AddNode({.name = g.UniqueValueName(name + "_Cast"),
                   .op_type = "Cast",
                   .inputs = {stored},
                   .outputs = {cast},
                   .attributes = {ir::Attribute("to", int64_t{1})}});
        it = converted.emplace(v, cast).first;
        result.tensors.push_back({.kind = QuantizedTensor::Kind::kWeight,
                                  .name = name,
                                  .dequantized = g.value(cast).name(),
                                  .layer = g.node(NodeId{i}).name(),
                                  .params = {1.0f, 0, dtype},
                                  .sqnr_db = err.sqnr_db(),
                                  .mse = err.mse()});
      }
      g.SetNodeInput(NodeId{i}, slot, it->second);
    }
    if (any) result.layers.push_back(g.node(NodeId{i}).name());
  }
  RETURN_IF_ERROR(internal::FinishRewrite(g, "converted graph"));
  return result;
}

}  // namespace mp::quant
