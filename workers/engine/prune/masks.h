// Pruning masks: which weights of each layer are kept (see prune.h).
#ifndef MP_WORKERS_ENGINE_PRUNE_MASKS_H_
#define MP_WORKERS_ENGINE_PRUNE_MASKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::prune {

// The mask of one layer's weight: uint8 of the weight's shape, 1 = keep, 0 = pruned.
struct LayerMask {
  std::string layer;   // layer name (prune.h)
  std::string weight;  // the weight initializer's name
  tensor::Tensor mask;
};
using Masks = std::vector<LayerMask>;

// Number of zeros in `mask` (uint8).
int64_t CountPruned(const tensor::Tensor& mask);

// A mask keeping exactly the non-zero entries of a float32 weight.
tensor::Tensor MaskOfNonZeros(const tensor::Tensor& weight);

// Multiplies `weight` (float32) in place by `mask`: pruned entries become +0. For tensors a
// trainer owns (train::Parameter::value); INVALID_ARGUMENT if the shapes or dtypes differ.
absl::Status ApplyMaskInPlace(const tensor::Tensor& mask, tensor::Tensor* weight);

// Replaces each masked initializer of `model` (found by LayerMask::weight) by a new tensor
// with the pruned entries zeroed. INVALID_ARGUMENT naming the weight if it is missing, not a
// float32 constant, or of another shape than its mask.
absl::Status ApplyMasks(const Masks& masks, ir::Model* model);

}  // namespace mp::prune

#endif  // MP_WORKERS_ENGINE_PRUNE_MASKS_H_
