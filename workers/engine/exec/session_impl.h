// Session internals shared by session.cc (Run, planning cache) and session_create.cc
// (validation and Create-time folding). Internal to mp_engine_exec.
#ifndef MP_WORKERS_ENGINE_EXEC_SESSION_IMPL_H_
#define MP_WORKERS_ENGINE_EXEC_SESSION_IMPL_H_

#include <functional>
#include <list>
#include <memory>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/plan.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/kernels/parallel.h"

namespace mp::exec {

// Feeds with at most this many elements may be planned by value (see value_dependent).
inline constexpr int64_t kMaxValueFeedElements = 64;

struct Session::Impl {
  explicit Impl(int num_threads) : pool(num_threads) {}

  int64_t opset = 0;
  std::vector<const OpSchema*> schemas;  // per node index of model_.graph
  std::vector<ir::ValueId> feeds;        // feedable graph inputs, in order
  kernels::ThreadPool pool;

  absl::Mutex mu;
  // Most recently used first.
  std::list<std::unique_ptr<internal::Plan>> plans ABSL_GUARDED_BY(mu);
  tensor::Tensor arena ABSL_GUARDED_BY(mu);  // uint8, reused across runs
  // Runs of batch slices side by side (session_split.cc): one arena and one 1-thread pool
  // per pool thread.
  std::vector<tensor::Tensor> slice_arenas ABSL_GUARDED_BY(mu);
  std::vector<std::unique_ptr<kernels::ThreadPool>> slice_pools ABSL_GUARDED_BY(mu);
  // Set once planning needed a value only a feed has (op.h NotKnownAtPlanTime): from then
  // on plans are keyed on, and fold, the values of small feeds (kMaxValueFeedElements).
  bool value_dependent ABSL_GUARDED_BY(mu) = false;
};

namespace internal {

// Folds every node whose inputs are all constants into initializers (Create time), then
// drops dead nodes. `schemas` is indexed by node and must match `graph`.
absl::Status FoldConstants(ir::Graph& graph, int64_t opset,
                           const std::vector<const OpSchema*>& schemas, int64_t max_tensor_bytes,
                           kernels::ThreadPool* pool);

// The session's planning inputs for feeds of `dtypes` / `shapes` (no feed values).
PlanInputs SessionPlanInputs(Session::Impl& impl, const ir::Graph& graph,
                             const SessionOptions& options, std::span<const tensor::DType> dtypes,
                             std::span<const tensor::Shape> shapes, bool fuse);

// Makes `arena` (uint8) hold at least `bytes`, reallocating only to grow.
absl::Status GrowArena(tensor::Tensor& arena, int64_t bytes, int64_t max_bytes);

// Makes the tensor of a graph output (Storage::kOutput) `slot` of value index `v`.
using OutputFn = std::function<absl::StatusOr<tensor::Tensor>(const ValueSlot& slot, size_t v)>;
// Called after each step with the step's output tensors.
using StepHook = std::function<absl::Status(const Step& step, std::span<const tensor::Tensor>)>;

// Binds every value of `plan` into `values` (feeds from `feeds` by feed index, constants,
// views of `arena`, graph outputs from `output`) and runs the steps in order on `pool`,
// appending to `timings` when non-null.
absl::Status ExecutePlan(const ir::Graph& graph, const Plan& plan,
                         std::span<const tensor::Tensor* const> feeds, const tensor::Tensor& arena,
                         const OutputFn& output, kernels::ThreadPool* pool,
                         std::vector<tensor::Tensor>& values, const StepHook& after_step,
                         std::vector<NodeTiming>* timings);

// Decides whether the fused `plan` for feeds of `dtypes` / `shapes` runs in batch slices
// (batch_split.h) and if so fills plan.split_rows and plan.split_plans. Any reason not to
// leaves them empty: the plan then runs whole, as before.
void PlanSplit(Session::Impl& impl, const ir::Graph& graph, const SessionOptions& options,
               const std::vector<tensor::DType>& dtypes, const std::vector<tensor::Shape>& shapes,
               Plan& plan) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.mu);

// Runs `plan` (with split_rows) slice by slice: on the pool's threads side by side when
// there are at least as many slices as threads, else one after another on the pool.
absl::StatusOr<NamedTensors> RunSplit(Session::Impl& impl, const ir::Graph& graph, const Plan& plan,
                                      std::span<const tensor::Tensor* const> feeds,
                                      const SessionOptions& options)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.mu);

}  // namespace internal
}  // namespace mp::exec

#endif  // MP_WORKERS_ENGINE_EXEC_SESSION_IMPL_H_
