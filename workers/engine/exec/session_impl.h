// Session internals shared by session.cc (Run, planning cache) and session_create.cc
// (validation and Create-time folding). Internal to mp_engine_exec.
#ifndef MP_WORKERS_ENGINE_EXEC_SESSION_IMPL_H_
#define MP_WORKERS_ENGINE_EXEC_SESSION_IMPL_H_

#include <list>
#include <memory>
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

}  // namespace internal
}  // namespace mp::exec

#endif  // MP_WORKERS_ENGINE_EXEC_SESSION_IMPL_H_
