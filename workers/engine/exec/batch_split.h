// Micro-batching (internal to mp_engine_exec; see session.h "Run"). A plan whose every
// computed value keeps the batch on its leading axis, with images never mixed, may run as
// consecutive slices of the batch: each slice's intermediates then stay in cache instead of
// streaming through memory between ops, and on several threads the slices run side by side
// (one thread each) instead of every op splitting its work. The slices' bytes are each
// op's bytes for that slice; the slicing depends only on the graph and the feed shapes, so
// a Run gives the same bytes for any thread count.
#ifndef MP_WORKERS_ENGINE_EXEC_BATCH_SPLIT_H_
#define MP_WORKERS_ENGINE_EXEC_BATCH_SPLIT_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/exec/plan.h"
#include "workers/engine/ir/graph.h"

namespace mp::exec::internal {

// Slices of at most this many bytes of a step's batched inputs and outputs are the target.
inline constexpr int64_t kSplitStepBytes = int64_t{4} << 20;

// For `unfused`, the plan (built without epilogue fusion) for feeds that all share leading
// dim `batch`, returns per value whether it is batched (computed from the feeds, leading
// axis = the batch, each image's elements depending only on the same image's inputs).
// FAILED_PRECONDITION naming the node and the rule when some node mixes images or is not
// known to keep them apart (e.g. Softmax over axis 0, DynamicQuantizeLinear, Gemm with
// transA, a Reshape that moves the batch, a graph output that is not batched, a value
// computed from the batch size used as data).
absl::StatusOr<std::vector<bool>> BatchedValues(const ir::Graph& graph, const Plan& unfused,
                                                std::span<const ir::ValueId> feeds, int64_t batch);

// Rows per slice for `unfused` (batched from BatchedValues): kSplitStepBytes over the most
// bytes per image any step reads and writes, and at least enough rows that streaming a
// step's constant inputs (weights) once per slice costs under a quarter of its activations.
int64_t SliceRows(const Plan& unfused, const std::vector<bool>& batched, int64_t batch);

// The slice count is rounded up to a multiple of this (within the batch), so that 2 and 4
// threads share the slices evenly.
inline constexpr int64_t kSliceMultiple = 4;

// `batch` rows cut into ceil(batch / rows) slices, rounded up to a multiple of
// kSliceMultiple (at most `batch`), of sizes differing by at most one, the larger first.
std::vector<int64_t> SliceSizes(int64_t batch, int64_t rows);

// Checks that `slice`, the plan for the same feeds cut to `rows` leading rows, agrees with
// `full`: same storage per value; batched values shaped as in `full` with the leading dim
// `rows`, others the same. FAILED_PRECONDITION naming the first value that differs (e.g. a
// Reshape to a literal batch size).
absl::Status CheckSlicePlan(const ir::Graph& graph, const Plan& full, const Plan& slice,
                            const std::vector<bool>& batched, int64_t rows);

}  // namespace mp::exec::internal

#endif  // MP_WORKERS_ENGINE_EXEC_BATCH_SPLIT_H_
