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
  // The values bound to the kernel's input / output slots (invalid ids for omitted ones):
  // the node's, or after epilogue fusion (plan_fuse.cc) the fused group's.
  std::vector<ir::ValueId> inputs, outputs;
  std::string label;  // op type, or e.g. "Conv+Add+Relu" for a fused step
};

struct Plan {
  // Cache key: feed dtypes and shapes, in feed order, plus the bytes of the feeds whose
  // values were known while planning (empty strings for the others; empty when none).
  std::vector<DType> key_dtypes;
  std::vector<Shape> key;
  std::vector<std::string> value_key;
  std::vector<ValueSlot> values;  // indexed by ValueId
  std::vector<Step> steps;        // execution order
  bool fused = false;             // built with PlanInputs::fuse (part of the cache key)
  int64_t arena_bytes = 0;
  int64_t intermediate_bytes = 0;  // sum of arena tensors' sizes
  int num_folded = 0;
  // Micro-batching (batch_split.h), decided at the first Run of a fused plan: the rows of
  // each slice in order (empty: run whole) and the plans for those sizes, largest first.
  bool split_decided = false;
  std::vector<int64_t> split_rows;
  std::vector<std::unique_ptr<Plan>> split_plans;
  std::string split_whole_reason;  // why split_rows is empty
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
  // Fuse epilogues into the steps that produce their inputs (FuseEpilogues). The values
  // fused away are not computed (Storage::kNone), so a plan that must show every value
  // (observers, extra outputs, InferTypes) is built without.
  bool fuse = false;
};

absl::StatusOr<std::unique_ptr<Plan>> BuildPlan(const PlanInputs& in);

// Epilogue fusion (plan_fuse.cc), run by BuildPlan before memory planning. A Conv step
// whose output is used by one node only (and is not a graph output) absorbs
//   - an Add of that output and another float value of the same shape that exists when
//     the Conv runs (a feed, a constant, or the output of an earlier step): y = conv + other;
//   - then (or directly) a Relu, or a Clip with constant bounds: y = clamp(y, lo, hi).
// The absorbed steps are removed, the Conv step writes the last absorbed node's output and
// the values in between become Storage::kNone. The bits equal the unfused run's: the conv
// result is rounded to float, then added, then clamped. `step_of_node` maps node index to
// step index (-1 for folded nodes) and is updated.
absl::Status FuseEpilogues(const PlanInputs& in, Plan& plan, std::vector<int>& step_of_node);

// Makes the prepared Conv kernel `kernel` also apply the epilogue: with `residual`, input
// slot 3 is added to the result, then the result is clamped to [act_min, act_max]. Returns
// false (leaving the kernel unchanged) when `kernel` is not a float Conv kernel or already
// has an epilogue. Implemented in ops_conv.cc.
bool FuseConvEpilogue(OpKernel& kernel, bool residual, float act_min, float act_max);

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
