#include "workers/engine/prune/masks.h"

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/prune/prune_internal.h"

namespace mp::prune {

using tensor::DType;
using tensor::Tensor;

int64_t CountPruned(const Tensor& mask) {
  int64_t zeros = 0;
  for (uint8_t m : mask.span<uint8_t>()) zeros += m == 0 ? 1 : 0;
  return zeros;
}

Tensor MaskOfNonZeros(const Tensor& weight) {
  Tensor mask = Tensor::Zeros(DType::kUint8, weight.shape());
  const float* w = weight.data<float>();
  uint8_t* m = mask.mutable_data<uint8_t>();
  for (int64_t i = 0; i < weight.num_elements(); ++i) m[i] = w[i] != 0.0f ? 1 : 0;
  return mask;
}

absl::Status ApplyMaskInPlace(const Tensor& mask, Tensor* weight) {
  if (mask.dtype() != DType::kUint8 || weight->dtype() != DType::kFloat32 ||
      !(mask.shape() == weight->shape())) {
    return absl::InvalidArgumentError(StrCat("mask ", mask.DebugString(), " does not fit weight ",
                                             weight->DebugString(),
                                             " (expected uint8 mask of a float32 weight)"));
  }
  const uint8_t* m = mask.data<uint8_t>();
  float* w = weight->mutable_data<float>();
  for (int64_t i = 0; i < weight->num_elements(); ++i) {
    if (m[i] == 0) w[i] = 0.0f;
  }
  return absl::OkStatus();
}

absl::Status ApplyMasks(const Masks& masks, ir::Model* model) {
  ir::Graph& g = model->graph;
  for (const LayerMask& lm : masks) {
    const ir::ValueId id = g.FindValue(lm.weight);
    if (!id.valid() || !g.value(id).is_constant()) {
      return absl::InvalidArgumentError(StrCat("layer '", lm.layer, "': weight '", lm.weight,
                                               "' is not a constant of the model"));
    }
    Tensor w = g.value(id).initializer().Clone();
    RETURN_IF_ERROR(Annotate(ApplyMaskInPlace(lm.mask, &w),
                             StrCat("layer '", lm.layer, "': weight '", lm.weight, "'")));
    g.SetConstant(id, std::move(w));
  }
  return absl::OkStatus();
}

absl::StatusOr<MaskResult> FinishMasks(const std::vector<PrunableLayer>& layers,
                                       std::vector<Tensor> masks, std::vector<std::string> skipped,
                                       ir::Model* model) {
  MaskResult result;
  for (size_t i = 0; i < layers.size(); ++i) {
    const PrunableLayer& l = layers[i];
    LayerSparsity ls{.layer = l.name,
                     .weights = model->graph.value(l.weight).initializer().num_elements(),
                     .skipped = std::move(skipped[i])};
    if (masks[i].defined()) {
      ls.pruned = CountPruned(masks[i]);
      result.masks.push_back({l.name, model->graph.value(l.weight).name(), std::move(masks[i])});
    }
    result.weights += ls.weights;
    result.pruned += ls.pruned;
    result.layers.push_back(std::move(ls));
  }
  RETURN_IF_ERROR(ApplyMasks(result.masks, model));
  return result;
}

}  // namespace mp::prune
