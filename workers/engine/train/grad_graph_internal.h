// Internals shared by grad_graph.cc (Forward/Backward) and grad_graph_create.cc (Create):
// the per-signature execution plan. Internal to mp_engine_train.
#ifndef MP_WORKERS_ENGINE_TRAIN_GRAD_GRAPH_INTERNAL_H_
#define MP_WORKERS_ENGINE_TRAIN_GRAD_GRAPH_INTERNAL_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "workers/engine/exec/op.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::train::internal {

// How one node runs for one input-shape signature.
struct NodePlan {
  enum class Kind { kFolded, kExec, kCustom };
  Kind kind = Kind::kFolded;
  exec::PreparedOp op;                 // kExec: exec's prepared inference kernel
  std::vector<tensor::Tensor> folded;  // kFolded: the outputs, per slot
};

// Built during the first Forward for a feed-shape signature, then reused.
struct Plan {
  std::vector<tensor::Shape> key;  // feed shapes
  std::vector<NodePlan> nodes;     // per node
  std::vector<bool> known;         // per value: known at plan time (constant)
};

inline bool HasBit(uint32_t mask, int i) { return i < 32 && ((mask >> i) & 1u) != 0; }

// Ops whose outputs depend only on input shapes: never differentiable, no rule needed.
inline bool IsShapeOnly(std::string_view op) { return op == "Shape" || op == "Size"; }

}  // namespace mp::train::internal

#endif  // MP_WORKERS_ENGINE_TRAIN_GRAD_GRAPH_INTERNAL_H_
