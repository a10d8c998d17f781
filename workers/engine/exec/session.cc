// Session::Run, feed validation and the plan cache.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "common/status.h"
#include "workers/engine/exec/feeds.h"
#include "workers/engine/exec/session_impl.h"

namespace mp::exec {
namespace {

using internal::Plan;
using internal::Step;
using internal::Storage;
using internal::ValueSlot;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time of the calling thread (excludes the pool's other threads).
int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace

absl::Status CheckFeed(const IoInfo& io, DType dtype, const Shape& shape) {
  if (io.dtype != DType::kUndefined && dtype != io.dtype) {
    return absl::InvalidArgumentError(StrCat("input '", io.name, "': expected ",
                                             tensor::DTypeName(io.dtype), ", got ",
                                             tensor::DTypeName(dtype)));
  }
  if (tensor::DTypeSize(dtype) == 0) {
    return absl::InvalidArgumentError(
        StrCat("input '", io.name, "': dtype ", tensor::DTypeName(dtype), " is not supported"));
  }
  if (!io.shape.has_rank()) return absl::OkStatus();
  if (shape.rank() != io.shape.rank()) {
    return absl::InvalidArgumentError(StrCat("input '", io.name, "': has rank ", shape.rank(), " ",
                                             shape.ToString(), ", expected rank ", io.shape.rank(),
                                             " (declared ", io.shape.ToString(), ")"));
  }
  for (int d = 0; d < shape.rank(); ++d) {
    const ir::Dim& dim = io.shape.dims()[static_cast<size_t>(d)];
    if (dim.known() && dim.size != shape.dim(d)) {
      return absl::InvalidArgumentError(StrCat("input '", io.name, "': dim ", d, " is ",
                                               shape.dim(d), ", expected ", dim.size, " (declared ",
                                               io.shape.ToString(), ")"));
    }
  }
  return absl::OkStatus();
}

// The value part of a plan key: the bytes of small feeds (see Impl::value_dependent).
static std::vector<std::string> ValueKey(const std::vector<const Tensor*>& feeds,
                                         std::vector<const Tensor*>* known) {
  std::vector<std::string> key;
  known->assign(feeds.size(), nullptr);
  for (size_t f = 0; f < feeds.size(); ++f) {
    const Tensor& t = *feeds[f];
    if (t.num_elements() > kMaxValueFeedElements) {
      key.emplace_back();
      continue;
    }
    (*known)[f] = &t;
    key.emplace_back(static_cast<const char*>(t.raw_data()), t.byte_size());
  }
  return key;
}

// Finds or builds the plan for the feeds' types (and, for value-dependent models, the values
// of small feeds when `feeds` is given); moves it to the front of the LRU list.
static absl::StatusOr<Plan*> GetPlan(Session::Impl& impl, const ir::Graph& graph,
                                     const SessionOptions& options,
                                     const std::vector<DType>& dtypes,
                                     const std::vector<Shape>& shapes,
                                     const std::vector<const Tensor*>* feeds, bool fuse)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.mu) {
  std::vector<const Tensor*> known;
  std::vector<std::string> value_key;
  if (impl.value_dependent && feeds != nullptr) value_key = ValueKey(*feeds, &known);
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (auto it = impl.plans.begin(); it != impl.plans.end(); ++it) {
      if ((*it)->key == shapes && (*it)->key_dtypes == dtypes && (*it)->value_key == value_key &&
          (*it)->fused == fuse) {
        impl.plans.splice(impl.plans.begin(), impl.plans, it);
        return impl.plans.front().get();
      }
    }
    internal::PlanInputs in =
        internal::SessionPlanInputs(impl, graph, options, dtypes, shapes, fuse);
    in.feed_values = known;
    absl::StatusOr<std::unique_ptr<Plan>> plan = internal::BuildPlan(in);
    if (plan.ok()) {
      (*plan)->value_key = value_key;
      impl.plans.push_front(*std::move(plan));
      while (static_cast<int>(impl.plans.size()) > options.max_cached_plans) {
        impl.plans.pop_back();
      }
      return impl.plans.front().get();
    }
    // Retry once by value if a Prepare needed a value that a small feed could provide.
    if (attempt > 0 || impl.value_dependent || feeds == nullptr ||
        !IsNotKnownAtPlanTime(plan.status())) {
      return plan.status();
    }
    value_key = ValueKey(*feeds, &known);
    bool any = false;
    for (const Tensor* t : known) any = any || t != nullptr;
    if (!any) return plan.status();
    impl.value_dependent = true;
  }
  return absl::InternalError("unreachable");
}

// Feed dtypes for planning without data: the declared ones.
static absl::StatusOr<std::vector<DType>> DeclaredDTypes(const std::vector<IoInfo>& inputs,
                                                         const std::vector<Shape>& shapes) {
  if (shapes.size() != inputs.size()) {
    return absl::InvalidArgumentError(
        StrCat("expected ", inputs.size(), " input shapes, got ", shapes.size()));
  }
  std::vector<DType> dtypes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype == DType::kUndefined) {
      return absl::InvalidArgumentError(
          StrCat("input '", inputs[i].name, "': dtype is not declared"));
    }
    RETURN_IF_ERROR(CheckFeed(inputs[i], inputs[i].dtype, shapes[i]));
    dtypes.push_back(inputs[i].dtype);
  }
  return dtypes;
}

absl::StatusOr<PlanStats> Session::GetPlanStats(const std::vector<Shape>& input_shapes) {
  ASSIGN_OR_RETURN(std::vector<DType> dtypes, DeclaredDTypes(inputs_, input_shapes));
  absl::MutexLock lock(&impl_->mu);
  ASSIGN_OR_RETURN(Plan * plan,
                   GetPlan(*impl_, model_.graph, options_, dtypes, input_shapes, nullptr,
                           /*fuse=*/false));
  return PlanStats{.num_steps = static_cast<int>(plan->steps.size()),
                   .num_folded_nodes = plan->num_folded,
                   .arena_bytes = plan->arena_bytes,
                   .intermediate_bytes = plan->intermediate_bytes};
}

absl::StatusOr<std::vector<ValueType>> Session::InferTypes(const std::vector<Shape>& input_shapes) {
  ASSIGN_OR_RETURN(std::vector<DType> dtypes, DeclaredDTypes(inputs_, input_shapes));
  absl::MutexLock lock(&impl_->mu);
  ASSIGN_OR_RETURN(Plan * plan,
                   GetPlan(*impl_, model_.graph, options_, dtypes, input_shapes, nullptr,
                           /*fuse=*/false));
  std::vector<ValueType> types;
  for (const ir::Value& v : model_.graph.values()) {
    const internal::ValueSlot& s = plan->values[static_cast<size_t>(v.id().index)];
    if (s.storage == Storage::kNone) continue;
    types.push_back({v.name(), s.dtype, s.shape});
  }
  return types;
}

namespace internal {

PlanInputs SessionPlanInputs(Session::Impl& impl, const ir::Graph& graph,
                             const SessionOptions& options, std::span<const DType> dtypes,
                             std::span<const Shape> shapes, bool fuse) {
  return PlanInputs{.graph = &graph,
                    .opset = impl.opset,
                    .schemas = impl.schemas,
                    .feeds = impl.feeds,
                    .feed_dtypes = dtypes,
                    .feed_shapes = shapes,
                    .max_tensor_bytes = options.max_tensor_bytes,
                    .max_arena_bytes = options.max_arena_bytes,
                    .pool = &impl.pool,
                    .fuse = fuse};
}

absl::Status GrowArena(Tensor& arena, int64_t bytes, int64_t max_bytes) {
  if (arena.defined() && arena.byte_size() >= static_cast<size_t>(bytes)) return absl::OkStatus();
  ASSIGN_OR_RETURN(arena, Tensor::Allocate(DType::kUint8, Shape({std::max<int64_t>(bytes, 64)}),
                                           max_bytes + 64));
  return absl::OkStatus();
}

absl::Status ExecutePlan(const ir::Graph& graph, const Plan& plan,
                         std::span<const Tensor* const> feeds, const Tensor& arena,
                         const OutputFn& output, kernels::ThreadPool* pool,
                         std::vector<Tensor>& values, const StepHook& after_step,
                         std::vector<NodeTiming>* timings) {
  // Materialise every value's tensor.
  values.assign(plan.values.size(), Tensor());
  for (size_t v = 0; v < plan.values.size(); ++v) {
    const ValueSlot& s = plan.values[v];
    switch (s.storage) {
      case Storage::kNone:
        break;
      case Storage::kFeed:
        values[v] = *feeds[static_cast<size_t>(s.feed_index)];
        break;
      case Storage::kConstant:
        values[v] = s.constant;
        break;
      case Storage::kArena:
        values[v] = Tensor::View(arena, s.dtype, s.shape, static_cast<size_t>(s.offset));
        break;
      case Storage::kOutput: {
        ASSIGN_OR_RETURN(values[v], output(s, v));
        break;
      }
    }
  }
  std::vector<Tensor> in, out;
  for (const Step& step : plan.steps) {
    in.assign(step.inputs.size(), Tensor());
    out.assign(step.outputs.size(), Tensor());
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      if (step.inputs[i].valid()) in[i] = values[static_cast<size_t>(step.inputs[i].index)];
    }
    for (size_t j = 0; j < step.outputs.size(); ++j) {
      if (step.outputs[j].valid()) out[j] = values[static_cast<size_t>(step.outputs[j].index)];
    }
    RunContext ctx{.inputs = in, .outputs = out, .pool = pool};
    const int64_t start = timings != nullptr ? NowNanos() : 0;
    const int64_t cpu_start = timings != nullptr ? ThreadCpuNanos() : 0;
    RETURN_IF_ERROR(step.kernel->Run(ctx));
    if (timings != nullptr) {
      timings->push_back({graph.node(step.node).name(), step.label, NowNanos() - start,
                          ThreadCpuNanos() - cpu_start});
    }
    if (after_step) RETURN_IF_ERROR(after_step(step, out));
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<BatchSlicing> Session::GetBatchSlicing(const std::vector<Shape>& input_shapes) {
  ASSIGN_OR_RETURN(std::vector<DType> dtypes, DeclaredDTypes(inputs_, input_shapes));
  absl::MutexLock lock(&impl_->mu);
  ASSIGN_OR_RETURN(Plan * plan, GetPlan(*impl_, model_.graph, options_, dtypes, input_shapes,
                                        nullptr, /*fuse=*/true));
  if (!options_.split_batch) return BatchSlicing{.whole_reason = "split_batch is off"};
  if (!plan->split_decided) {
    internal::PlanSplit(*impl_, model_.graph, options_, dtypes, input_shapes, *plan);
  }
  return BatchSlicing{.rows = plan->split_rows, .whole_reason = plan->split_whole_reason};
}

absl::StatusOr<NamedTensors> Session::Run(const NamedTensors& feeds, const RunOptions& options) {
  const ir::Graph& graph = model_.graph;
  // Bind feeds by name.
  std::vector<const Tensor*> bound(inputs_.size(), nullptr);
  for (const auto& [name, tensor] : feeds) {
    size_t k = 0;
    while (k < inputs_.size() && inputs_[k].name != name) ++k;
    if (k == inputs_.size()) {
      const ir::ValueId id = graph.FindValue(name);
      if (id.valid() && graph.value(id).is_constant() && graph.IsGraphInput(id)) {
        return absl::InvalidArgumentError(StrCat("input '", name,
                                                 "' is a constant initializer of the model "
                                                 "and cannot be fed"));
      }
      return absl::InvalidArgumentError(StrCat("unknown input '", name, "'"));
    }
    if (bound[k] != nullptr) {
      return absl::InvalidArgumentError(StrCat("input '", name, "' is given twice"));
    }
    bound[k] = &tensor;
  }
  std::vector<DType> dtypes;
  std::vector<Shape> shapes;
  for (size_t k = 0; k < inputs_.size(); ++k) {
    if (bound[k] == nullptr) {
      return absl::InvalidArgumentError(StrCat("missing input '", inputs_[k].name, "'"));
    }
    RETURN_IF_ERROR(CheckFeed(inputs_[k], bound[k]->dtype(), bound[k]->shape()));
    dtypes.push_back(bound[k]->dtype());
    shapes.push_back(bound[k]->shape());
  }
  // Extra outputs by name.
  absl::flat_hash_map<int32_t, size_t> extra_index;  // value index -> position in extras
  std::vector<ir::ValueId> extra_ids;
  for (const std::string& name : options.extra_outputs) {
    const ir::ValueId id = graph.FindValue(name);
    if (!id.valid()) {
      return absl::InvalidArgumentError(StrCat("extra output '", name,
                                               "' is not a value of the "
                                               "graph (it may have been folded away)"));
    }
    extra_index.emplace(id.index, extra_ids.size());
    extra_ids.push_back(id);
  }

  absl::MutexLock lock(&impl_->mu);
  std::vector<const Tensor*> feed_ptrs(bound.begin(), bound.end());
  // Fused epilogues hide intermediates: only when no one asks to see them.
  const bool fuse = !options.observer && options.extra_outputs.empty();
  ASSIGN_OR_RETURN(Plan * plan, GetPlan(*impl_, graph, options_, dtypes, shapes, &feed_ptrs, fuse));
  if (fuse && options.timings == nullptr && options_.split_batch) {
    if (!plan->split_decided) internal::PlanSplit(*impl_, graph, options_, dtypes, shapes, *plan);
    if (!plan->split_rows.empty()) return internal::RunSplit(*impl_, graph, *plan, bound, options_);
  }
  RETURN_IF_ERROR(internal::GrowArena(impl_->arena, plan->arena_bytes, options_.max_arena_bytes));
  std::vector<Tensor> extras(extra_ids.size());
  auto after_step = [&](const internal::Step& step, std::span<const Tensor> out) -> absl::Status {
    for (size_t j = 0; j < step.outputs.size(); ++j) {
      const ir::ValueId id = step.outputs[j];
      if (!id.valid()) continue;
      const Tensor& t = out[j];
      if (options.observer) RETURN_IF_ERROR(options.observer(graph.value(id).name(), t));
      auto it = extra_index.find(id.index);
      if (it != extra_index.end()) extras[it->second] = t.Clone();
    }
    return absl::OkStatus();
  };
  auto fresh = [&](const internal::ValueSlot& s, size_t) {
    return Tensor::Allocate(s.dtype, s.shape, options_.max_tensor_bytes);
  };
  internal::StepHook hook;
  if (options.observer || !extra_ids.empty()) hook = after_step;
  std::vector<Tensor> values;
  RETURN_IF_ERROR(internal::ExecutePlan(graph, *plan, bound, impl_->arena, fresh, &impl_->pool,
                                        values, hook, options.timings));
  NamedTensors result;
  for (ir::ValueId id : graph.outputs()) {
    result.emplace_back(graph.value(id).name(), values[static_cast<size_t>(id.index)]);
  }
  for (size_t k = 0; k < extra_ids.size(); ++k) {
    const ir::ValueId id = extra_ids[k];
    Tensor t = extras[k];
    if (!t.defined()) {
      const internal::ValueSlot& s = plan->values[static_cast<size_t>(id.index)];
      if (s.storage == Storage::kNone) {
        return absl::InvalidArgumentError(
            StrCat("extra output '", graph.value(id).name(), "' is not computed for these inputs"));
      }
      t = values[static_cast<size_t>(id.index)];
      if (s.storage == Storage::kArena) t = t.Clone();
    }
    result.emplace_back(graph.value(id).name(), std::move(t));
  }
  return result;
}

}  // namespace mp::exec
