// Session::Run in batch slices (batch_split.h; session.h "Run").
#include <algorithm>
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/batch_split.h"
#include "workers/engine/exec/session_impl.h"

namespace mp::exec::internal {
namespace {

// `shapes` with the leading dim set to `rows`.
std::vector<Shape> Cut(const std::vector<Shape>& shapes, int64_t rows) {
  std::vector<Shape> out;
  for (const Shape& s : shapes) {
    std::vector<int64_t> dims = s.dims();
    dims[0] = rows;
    out.emplace_back(std::move(dims));
  }
  return out;
}

// Why `plan` for `shapes` runs whole; OK with split_rows / split_plans filled otherwise.
absl::Status TrySplit(Session::Impl& impl, const ir::Graph& graph, const SessionOptions& options,
                      const std::vector<DType>& dtypes, const std::vector<Shape>& shapes,
                      Plan& plan) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.mu) {
  if (impl.value_dependent) {
    return absl::FailedPreconditionError("the plan depends on the values of small inputs");
  }
  if (shapes.empty() || shapes[0].rank() < 1 || shapes[0].dim(0) < 2) {
    return absl::FailedPreconditionError("the first input has no batch of 2 or more rows");
  }
  const int64_t batch = shapes[0].dim(0);
  PlanInputs in = SessionPlanInputs(impl, graph, options, dtypes, shapes, /*fuse=*/false);
  ASSIGN_OR_RETURN(std::unique_ptr<Plan> unfused, BuildPlan(in));
  ASSIGN_OR_RETURN(std::vector<bool> batched, BatchedValues(graph, *unfused, impl.feeds, batch));
  const int64_t rows = SliceRows(*unfused, batched, batch);
  if (rows >= batch) {
    return absl::FailedPreconditionError(
        StrCat("the whole batch of ", batch, " fits the slice size"));
  }
  unfused.reset();
  std::vector<int64_t> sizes = SliceSizes(batch, rows);
  std::vector<std::unique_ptr<Plan>> plans;
  std::vector<int64_t> distinct = {sizes.front()};
  if (sizes.back() != sizes.front()) distinct.push_back(sizes.back());
  for (int64_t r : distinct) {
    const std::vector<Shape> cut = Cut(shapes, r);
    in.feed_shapes = cut;
    in.fuse = true;
    ASSIGN_OR_RETURN(std::unique_ptr<Plan> slice, BuildPlan(in));
    RETURN_IF_ERROR(CheckSlicePlan(graph, plan, *slice, batched, r));
    plans.push_back(std::move(slice));
  }
  plan.split_rows = std::move(sizes);
  plan.split_plans = std::move(plans);
  return absl::OkStatus();
}

}  // namespace

void PlanSplit(Session::Impl& impl, const ir::Graph& graph, const SessionOptions& options,
               const std::vector<DType>& dtypes, const std::vector<Shape>& shapes, Plan& plan) {
  plan.split_decided = true;
  plan.split_rows.clear();
  plan.split_plans.clear();
  // TrySplit fills split_rows / split_plans only on success.
  absl::Status why = TrySplit(impl, graph, options, dtypes, shapes, plan);
  plan.split_whole_reason = std::string(why.message());
}

absl::StatusOr<NamedTensors> RunSplit(Session::Impl& impl, const ir::Graph& graph, const Plan& plan,
                                      std::span<const Tensor* const> feeds,
                                      const SessionOptions& options) {
  const int64_t batch = feeds[0]->shape().dim(0);
  // The whole outputs; each slice writes its rows through views.
  std::vector<Tensor> whole(plan.values.size());
  for (ir::ValueId id : graph.outputs()) {
    const ValueSlot& s = plan.values[static_cast<size_t>(id.index)];
    Tensor& t = whole[static_cast<size_t>(id.index)];
    if (t.defined()) continue;
    ASSIGN_OR_RETURN(t, Tensor::Allocate(s.dtype, s.shape, options.max_tensor_bytes));
  }
  const int threads = impl.pool.num_threads();
  const int64_t slices = static_cast<int64_t>(plan.split_rows.size());
  const bool side_by_side = threads > 1 && slices >= threads;
  const size_t lanes = side_by_side ? static_cast<size_t>(threads) : 1;
  int64_t arena_bytes = 0;
  for (const auto& p : plan.split_plans) arena_bytes = std::max(arena_bytes, p->arena_bytes);
  if (impl.slice_arenas.size() < lanes) impl.slice_arenas.resize(lanes);
  for (size_t lane = 0; lane < lanes; ++lane) {
    RETURN_IF_ERROR(GrowArena(impl.slice_arenas[lane], arena_bytes, options.max_arena_bytes));
  }
  while (impl.slice_pools.size() < lanes) {
    impl.slice_pools.push_back(std::make_unique<kernels::ThreadPool>(1));
  }
  std::vector<int64_t> first(static_cast<size_t>(slices), 0);
  for (size_t k = 1; k < first.size(); ++k) first[k] = first[k - 1] + plan.split_rows[k - 1];
  std::vector<absl::Status> status(static_cast<size_t>(slices));
  auto run_slice = [&](size_t k, size_t lane, kernels::ThreadPool* pool) {
    const int64_t rows = plan.split_rows[k], row0 = first[k];
    const Plan& p = *plan.split_plans[rows == plan.split_rows.front() ? 0 : 1];
    // A view of rows [row0, row0 + rows) of `t`, shaped `shape`.
    auto rows_of = [&](const Tensor& t, DType dtype, Shape shape) {
      const size_t row_bytes = t.byte_size() / static_cast<size_t>(batch);
      return Tensor::View(t, dtype, std::move(shape), static_cast<size_t>(row0) * row_bytes);
    };
    std::vector<Tensor> cut;
    std::vector<const Tensor*> cut_ptrs;
    cut.reserve(feeds.size());
    for (size_t f = 0; f < feeds.size(); ++f) {
      cut.push_back(rows_of(*feeds[f], feeds[f]->dtype(), p.key[f]));
      cut_ptrs.push_back(&cut.back());
    }
    auto output = [&](const ValueSlot& s, size_t v) -> absl::StatusOr<Tensor> {
      return rows_of(whole[v], s.dtype, s.shape);
    };
    std::vector<Tensor> values;
    status[k] = ExecutePlan(graph, p, cut_ptrs, impl.slice_arenas[lane], output, pool, values,
                            StepHook(), nullptr);
  };
  if (side_by_side) {
    impl.pool.ParallelFor(static_cast<int64_t>(lanes), 1, [&](int64_t begin, int64_t end) {
      for (int64_t lane = begin; lane < end; ++lane) {
        for (int64_t k = lane; k < slices; k += static_cast<int64_t>(lanes)) {
          run_slice(static_cast<size_t>(k), static_cast<size_t>(lane),
                    impl.slice_pools[static_cast<size_t>(lane)].get());
        }
      }
    });
  } else {
    for (size_t k = 0; k < status.size() && (k == 0 || status[k - 1].ok()); ++k) {
      run_slice(k, 0, &impl.pool);
    }
  }
  for (const absl::Status& s : status) RETURN_IF_ERROR(s);
  NamedTensors result;
  for (ir::ValueId id : graph.outputs()) {
    result.emplace_back(graph.value(id).name(), whole[static_cast<size_t>(id.index)]);
  }
  return result;
}

}  // namespace mp::exec::internal
