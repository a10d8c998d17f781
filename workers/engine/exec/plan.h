// The execution plan for one input-shape signature (internal to mp_engine_exec; see
// session.h for the behaviour). BuildPlan is a pure function of the graph, the registry
// entries and the feed types, apart from running kernels to fold known values.
#ifndef MP_WORKERS_ENGINE_EXEC_PLAN_H_
#define MP_WORKERS_ENGINE_EXEC_PLAN_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/kernels/parallel.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::exec::internal {

// Where a value lives during Run.
enum class Storage {
  kNone,      // not computed by this plan (dead, or an omitted optional output)
  kFeed,      // a graph input: the caller's tensor
  kConstant,  // an initializer or a value folded at plan time: ValueSlot::constant
  kArena,     // an intermediate at ValueSlot::offset in the shared arena
  kOutput,    // a graph output computed by a step: allocated fresh per Run
};

struct ValueSlot {
  Storage storage = Storage::kNone;
  DType dtype = DType::kUndefined;
  Shape shape;
  int64_t offset = 0;   // kArena
  Tensor constant;      // kConstant
  int feed_index = -1;  // kFeed: index into the session's feeds
};

struct Step {
  ir::NodeId node;
  std::unique_ptr<OpKernel> kernel;
};

struct Plan {
  // Cache key: feed dtypes and shapes, in feed order, plus the bytes of the feeds whose
  // values were known while planning (empty strings for the others; empty when none).
  std::vector<DType> key_dtypes;
  std::vector<Shape> key;
  std::vector<std::string> value_key;
  std::vector<ValueSlot> values;  // indexed by ValueId
  std::vector<Step> steps;        // execution order
  int64_t arena_bytes = 0;
  int64_t intermediate_bytes = 0;  // sum of arena tensors' sizes
  int num_folded = 0;
};

struct PlanInputs {
  const ir::Graph* graph = nullptr;  // topologically sorted
  int64_t opset = 0;
  std::span<const OpSchema* const> schemas;  // per node index
  std::span<const ir::ValueId> feeds;
  std::span<const DType> feed_dtypes;
  std::span<const Shape> feed_shapes;
  // Empty, or one per feed: the feed's value when planning may use it (null otherwise).
  std::span<const Tensor* const> feed_values;
  int64_t max_tensor_bytes = 0;
  int64_t max_arena_bytes = 0;
  kernels::ThreadPool* pool = nullptr;
};

absl::StatusOr<std::unique_ptr<Plan>> BuildPlan(const PlanInputs& in);

// Runs schema->prepare for `node` and checks the result's contract (one OutputInfo per
// output slot, every present output typed and within max_tensor_bytes, a kernel unless all
// present outputs have values); errors name the node.
absl::StatusOr<PreparedOp> PrepareNode(const ir::Node& node, const OpSchema& schema, int64_t opset,
                                       std::span<const InputInfo> inputs, int64_t max_tensor_bytes);

// Computes every present output of a prepared node from known `inputs` (one per input slot,
// undefined for omitted ones): the declared values, or the kernel run on fresh tensors.
absl::StatusOr<std::vector<Tensor>> EvaluateNode(const ir::Node& node, PreparedOp& op,
                                                 std::span<const Tensor> inputs,
                                                 kernels::ThreadPool* pool);

}  // namespace mp::exec::internal

#endif  // MP_WORKERS_ENGINE_EXEC_PLAN_H_
