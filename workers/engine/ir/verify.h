// Whole-graph analyses over mp::ir::Graph: topological order and the verifier.
#ifndef MP_WORKERS_ENGINE_IR_VERIFY_H_
#define MP_WORKERS_ENGINE_IR_VERIFY_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"

namespace mp::ir {

// Node ids in an order where every node comes after the producers of its inputs. Stable:
// among ready nodes the smallest id goes first, so an already sorted graph keeps its order.
// INVALID_ARGUMENT on a cycle, naming the nodes of one cycle:
//   "graph has a cycle: node 'a' (Add) -> node 'b' (Relu) -> node 'a' (Add)".
absl::StatusOr<std::vector<NodeId>> TopologicalOrder(const Graph& graph);

// Checks the graph's invariants from scratch (nothing cached is trusted); INVALID_ARGUMENT
// naming the first violation found:
//  - every id stored anywhere (node inputs/outputs, graph inputs/outputs) is in range;
//  - value names are non-empty and unique; node op_types non-empty;
//  - each value is produced by at most one node (and a node output is neither a graph
//    input nor a constant);
//  - every node input and graph output is defined: a graph input, a constant, or produced
//    ("dangling input");
//  - the cached producer/uses of each value match the nodes;
//  - a constant's tensor agrees with the value's declared dtype and shape;
//  - no cycles.
absl::Status Verify(const Graph& graph);

}  // namespace mp::ir

#endif  // MP_WORKERS_ENGINE_IR_VERIFY_H_
