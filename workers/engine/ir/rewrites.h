// Semantics-preserving inference rewrites over mp::ir::Model (DESIGN.md §5 "IR").
//
// Each rewrite returns how many sites it changed, or an error if the graph is malformed in
// a way it had to inspect (it never leaves a half-rewritten graph: sites are checked
// completely before any is changed). They may renumber ids (graph.h).
#ifndef MP_WORKERS_ENGINE_IR_REWRITES_H_
#define MP_WORKERS_ENGINE_IR_REWRITES_H_

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"

namespace mp::ir {

// Folds BatchNormalization into the Conv or Gemm feeding it, where legal:
//  - BN is in inference form: one used output (opset 7-13 may list mean/var outputs, which
//    must be unused), training_mode absent or 0, and (opset 7-8) spatial absent or 1;
//  - BN's X is the producer's only output use and is not a graph output;
//  - weights, optional bias and the four BN parameters are float32 constants of the
//    expected sizes (M = output channels);
//  - Gemm: output rank 2 (BN channel axis = Gemm's N); B is [K, N] (transB=0) or [N, K]
//    (transB=1); C absent, one element, or with last dim N.
// Math, with s = scale / sqrt(var + epsilon):
//   Conv: W'[m, ...] = W[m, ...] * s[m];  B'[m] = (B[m] - mean[m]) * s[m] + bias[m]
//   Gemm: column n of op(B) scaled by s[n] (alpha kept);
//         C' = s * beta * C + (bias - s * mean), beta' = 1
// The folded node takes over BN's output value (so model output names survive); new
// weight constants get fresh names unless the old ones had no other use. Returns the number
// of BN nodes removed.
absl::StatusOr<int> FoldBatchNormalization(Model& model);

// Removes Identity nodes and inference-mode Dropout nodes (mask output unused;
// training_mode input absent or a constant false), rewiring consumers to the input. A node
// whose output is a graph output is removed only if its input can take over that name
// (the input is produced by a node and is not itself a graph output); otherwise it stays.
// Returns the number of nodes removed.
absl::StatusOr<int> RemoveIdentityLikeNodes(Model& model);

// Runs the rewrites above, then RemoveDeadNodes(), then Verify(). Returns total changes.
absl::StatusOr<int> SimplifyForInference(Model& model);

}  // namespace mp::ir

#endif  // MP_WORKERS_ENGINE_IR_REWRITES_H_
