// Parameter initialisation "from scratch", as PyTorch's default module initialisers do, so any
// architecture (an ONNX model's graph) can be trained from random weights.
//
// Parameters are float32 initializers identified by the nodes consuming them:
//   Conv input 1, weight [O, I/group, k...]:   fan_in = (I/group) * prod(k)
//   Gemm input 1, B: [N, K] with transB=1 (PyTorch Linear), [K, N] otherwise: fan_in = K
//   MatMul constant input 1, [..., K, N] (or [K]):                              fan_in = K
//     weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))  (= kaiming_uniform_(a=sqrt(5)), the
//     torch.nn.Linear / ConvNd default: gain sqrt(2/(1+5)) * sqrt(3/fan_in))
//   Conv input 2 / Gemm input 2 (bias), and the constant input of an Add reading a MatMul
//   output whose weight was initialised (the MatMul+Add form of Linear):
//     bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in
//   BatchNormalization inputs 1..4: scale = 1, B = 0, running mean = 0, running var = 1.
// Other initializers (shape constants, non-float tensors, constants of other ops) are kept.
//
// Random numbers: each initializer draws from its own SplitMix64 stream seeded with
// data::DeriveSeed(seed, FNV-1a-64(name)); a draw is u = (x >> 40) * 2^-24 in [0, 1), value
// lo + (hi - lo) * u. So the result depends only on (seed, name, shape, role): the same bytes
// on every platform, whatever the node order. (Not PyTorch's generator: same distributions,
// different numbers.)
#ifndef MP_WORKERS_ENGINE_TRAIN_INIT_H_
#define MP_WORKERS_ENGINE_TRAIN_INIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"

namespace mp::train {

// Re-initialises `model`'s parameters in place (see the header comment) and returns the names
// of the initializers it set, in graph value order. INVALID_ARGUMENT when an initializer has
// conflicting roles (e.g. a Conv weight also read as a BN scale), naming it and both nodes,
// or when a weight has fewer dims than its role needs.
absl::StatusOr<std::vector<std::string>> InitializeParameters(ir::Model& model, uint64_t seed);

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_INIT_H_
