#include "workers/engine/train/grad_graph.h"

#include <algorithm>
#include <utility>

#include "common/check.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/feeds.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/plan.h"
#include "workers/engine/train/grad_graph_internal.h"
#include "workers/engine/train/rules.h"

namespace mp::train {

namespace {

using internal::NodePlan;
using internal::Plan;
using internal::Rule;
using internal::RuleTable;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

constexpr size_t kMaxPlans = 8;
using internal::HasBit;

// exec::Session::Run's checks, and float32 (the graph trains on float feeds).
absl::Status CheckFeed(const exec::IoInfo& io, const Tensor& t) {
  if (t.dtype() != DType::kFloat32) {
    return absl::InvalidArgumentError(
        StrCat("input '", io.name, "': expected float32, got ", tensor::DTypeName(t.dtype())));
  }
  return exec::CheckFeed(io, t.dtype(), t.shape());
}

// splitmix64 finaliser: mixes (seed, step, node) into a Dropout stream key.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// dst += src (same element count), split over the pool by fixed chunks.
void AddInto(kernels::ThreadPool* pool, const Tensor& src, Tensor& dst) {
  const float* s = src.data<float>();
  float* d = dst.mutable_data<float>();
  internal::ParallelElements(pool, src.num_elements(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) d[i] += s[i];
  });
}

}  // namespace

GradGraph::~GradGraph() = default;

absl::StatusOr<internal::Plan*> GradGraph::GetPlan(const std::vector<Shape>& shapes) {
  for (auto& p : plans_) {
    if (p->key == shapes) return p.get();
  }
  return nullptr;
}

absl::StatusOr<exec::NamedTensors> GradGraph::Forward(const exec::NamedTensors& feeds, Mode mode) {
  const ir::Graph& graph = model_.graph;
  std::vector<const Tensor*> bound(feeds_.size(), nullptr);
  for (const auto& [name, t] : feeds) {
    size_t k = 0;
    while (k < feed_info_.size() && feed_info_[k].name != name) ++k;
    if (k == feed_info_.size())
      return absl::InvalidArgumentError(StrCat("unknown input '", name, "'"));
    if (bound[k] != nullptr) {
      return absl::InvalidArgumentError(StrCat("input '", name, "' is given twice"));
    }
    bound[k] = &t;
  }
  std::vector<Shape> shapes;
  for (size_t k = 0; k < feeds_.size(); ++k) {
    if (bound[k] == nullptr) {
      return absl::InvalidArgumentError(StrCat("missing input '", feed_info_[k].name, "'"));
    }
    RETURN_IF_ERROR(CheckFeed(feed_info_[k], *bound[k]));
    shapes.push_back(bound[k]->shape());
  }
  ASSIGN_OR_RETURN(Plan * plan, GetPlan(shapes));
  std::unique_ptr<Plan> building;
  if (plan == nullptr) {
    building = std::make_unique<Plan>();
    building->key = shapes;
    building->nodes.resize(static_cast<size_t>(graph.num_nodes()));
    building->known.assign(static_cast<size_t>(graph.num_values()), false);
    for (const ir::Value& v : graph.values()) {
      const size_t vi = static_cast<size_t>(v.id().index);
      building->known[vi] = v.is_constant() && param_of_value_[vi] < 0 && state_of_value_[vi] < 0;
    }
    plan = building.get();
  }

  std::vector<Tensor> values(static_cast<size_t>(graph.num_values()));
  for (const ir::Value& v : graph.values()) {
    const size_t vi = static_cast<size_t>(v.id().index);
    if (param_of_value_[vi] >= 0) {
      values[vi] = parameters_[static_cast<size_t>(param_of_value_[vi])].value;
    } else if (state_of_value_[vi] >= 0) {
      values[vi] = state_[static_cast<size_t>(state_of_value_[vi])];
    } else if (v.is_constant()) {
      values[vi] = v.initializer();
    }
  }
  for (size_t k = 0; k < feeds_.size(); ++k)
    values[static_cast<size_t>(feeds_[k].index)] = *bound[k];

  std::vector<std::vector<Tensor>> saved(static_cast<size_t>(graph.num_nodes()));
  std::vector<Tensor> inputs, outputs;
  for (const ir::Node& node : graph.nodes()) {
    const size_t ni = static_cast<size_t>(node.id().index);
    NodePlan& np = plan->nodes[ni];
    const Rule* rule = rules_[ni];
    inputs.assign(static_cast<size_t>(node.num_inputs()), Tensor());
    for (int i = 0; i < node.num_inputs(); ++i) {
      if (node.input(i).valid())
        inputs[static_cast<size_t>(i)] = values[static_cast<size_t>(node.input(i).index)];
    }
    bool fold_custom = false;  // a private-domain op on constants: run once, then folded
    if (building) {
      bool all_known = true;
      std::vector<exec::InputInfo> infos(static_cast<size_t>(node.num_inputs()));
      for (int i = 0; i < node.num_inputs(); ++i) {
        const ir::ValueId in = node.input(i);
        if (!in.valid()) continue;
        exec::InputInfo& info = infos[static_cast<size_t>(i)];
        const Tensor& t = inputs[static_cast<size_t>(i)];
        info.present = true;
        info.dtype = t.dtype();
        info.shape = t.shape();
        info.name = graph.value(in).name();
        if (plan->known[static_cast<size_t>(in.index)]) {
          info.value = &inputs[static_cast<size_t>(i)];
        } else {
          all_known = false;
        }
      }
      if (rule != nullptr && rule->forward != nullptr && (!all_known || !rule->domain.empty())) {
        np.kind = NodePlan::Kind::kCustom;
        fold_custom = all_known;
      } else {
        ASSIGN_OR_RETURN(const exec::OpSchema* schema,
                         exec::OpRegistry::Default().Lookup(node, opset_));
        ASSIGN_OR_RETURN(
            np.op, exec::internal::PrepareNode(node, *schema, opset_, infos, int64_t{1} << 34));
        bool outputs_known = true;
        for (int j = 0; j < node.num_outputs(); ++j) {
          if (node.output(j).valid() && !np.op.outputs[static_cast<size_t>(j)].value.defined()) {
            outputs_known = false;
          }
        }
        if (all_known || outputs_known) {
          ASSIGN_OR_RETURN(np.folded,
                           exec::internal::EvaluateNode(node, np.op, inputs, pool_.get()));
          np.kind = NodePlan::Kind::kFolded;
          np.op = exec::PreparedOp();
          for (int j = 0; j < node.num_outputs(); ++j) {
            if (node.output(j).valid())
              plan->known[static_cast<size_t>(node.output(j).index)] = true;
          }
        } else if (rule == nullptr) {
          return absl::InternalError(StrCat(node.Describe(), ": op ", node.op_type(),
                                            " has no backward rule and is not constant"));
        } else {
          np.kind = NodePlan::Kind::kExec;
        }
      }
    }
    switch (np.kind) {
      case NodePlan::Kind::kFolded:
        outputs = np.folded;
        break;
      case NodePlan::Kind::kExec: {
        ASSIGN_OR_RETURN(outputs, exec::internal::EvaluateNode(node, np.op, inputs, pool_.get()));
        break;
      }
      case NodePlan::Kind::kCustom: {
        outputs.assign(static_cast<size_t>(node.num_outputs()), Tensor());
        std::vector<Tensor> state(static_cast<size_t>(node.num_inputs()));
        for (int i = 0; i < node.num_inputs(); ++i) {
          const ir::ValueId in = node.input(i);
          if (in.valid() && state_of_value_[static_cast<size_t>(in.index)] >= 0) {
            state[static_cast<size_t>(i)] =
                state_[static_cast<size_t>(state_of_value_[static_cast<size_t>(in.index)])];
          }
        }
        internal::ForwardContext ctx{.node = node,
                                     .opset = opset_,
                                     .mode = mode,
                                     .inputs = inputs,
                                     .outputs = &outputs,
                                     .saved = &saved[ni],
                                     .state = state,
                                     .seed = Mix(Mix(Mix(options_.seed) ^ step_) ^ ni),
                                     .pool = pool_.get()};
        RETURN_IF_ERROR(rule->forward(ctx));
        break;
      }
    }
    if (fold_custom) {
      np.kind = NodePlan::Kind::kFolded;
      np.folded = outputs;
      saved[ni].clear();
      for (int j = 0; j < node.num_outputs(); ++j) {
        if (node.output(j).valid()) plan->known[static_cast<size_t>(node.output(j).index)] = true;
      }
    }
    for (int j = 0; j < node.num_outputs(); ++j) {
      if (node.output(j).valid())
        values[static_cast<size_t>(node.output(j).index)] = outputs[static_cast<size_t>(j)];
    }
  }
  if (building) {
    if (plans_.size() >= kMaxPlans) plans_.erase(plans_.begin());
    plans_.push_back(std::move(building));
  }

  exec::NamedTensors result;
  for (ir::ValueId id : outputs_) {
    const size_t vi = static_cast<size_t>(id.index);
    Tensor t = values[vi];
    if (param_of_value_[vi] >= 0 || state_of_value_[vi] >= 0) t = t.Clone();
    result.emplace_back(graph.value(id).name(), std::move(t));
  }
  if (mode == Mode::kTrain) {
    values_ = std::move(values);
    saved_ = std::move(saved);
    train_plan_ = plan;
    have_train_forward_ = true;
    have_backward_ = false;
    ++step_;
  }
  return result;
}

absl::Status GradGraph::Backward(std::span<const Tensor> output_grads) {
  if (!have_train_forward_) {
    return absl::FailedPreconditionError("Backward needs a Forward(kTrain) first");
  }
  const ir::Graph& graph = model_.graph;
  if (output_grads.size() != outputs_.size()) {
    return absl::InvalidArgumentError(StrCat("Backward: got ", output_grads.size(),
                                             " output gradients, expected ", outputs_.size(),
                                             " (graph outputs then extra outputs)"));
  }
  // A plan evicted since the Forward would dangle: plans are only erased when a new one is
  // built, and train_plan_ is checked here.
  bool plan_alive = false;
  for (auto& p : plans_) plan_alive = plan_alive || p.get() == train_plan_;
  if (!plan_alive) {
    return absl::FailedPreconditionError("Backward: the last Forward(kTrain) plan was evicted");
  }
  std::vector<Tensor> grads(static_cast<size_t>(graph.num_values()));
  std::vector<bool> owned(static_cast<size_t>(graph.num_values()), false);
  auto accumulate = [&](ir::ValueId id, const Tensor& g) {
    const size_t vi = static_cast<size_t>(id.index);
    if (!grads[vi].defined()) {
      grads[vi] = g;
      return;
    }
    if (!owned[vi]) {
      grads[vi] = grads[vi].Clone();
      owned[vi] = true;
    }
    AddInto(pool_.get(), g, grads[vi]);
  };
  for (size_t k = 0; k < outputs_.size(); ++k) {
    const Tensor& g = output_grads[k];
    if (!g.defined()) continue;
    const Tensor& y = values_[static_cast<size_t>(outputs_[k].index)];
    if (g.dtype() != DType::kFloat32 || !(g.shape() == y.shape())) {
      return absl::InvalidArgumentError(
          StrCat("Backward: gradient of output '", graph.value(outputs_[k]).name(), "' is ",
                 g.DebugString(), ", expected float32", y.shape().ToString()));
    }
    if (!needs_grad_[static_cast<size_t>(outputs_[k].index)]) continue;
    accumulate(outputs_[k], g);
  }
  std::vector<Tensor> in, out, out_grads, in_grads;
  for (int n = graph.num_nodes() - 1; n >= 0; --n) {
    const size_t ni = static_cast<size_t>(n);
    const ir::Node& node = graph.nodes()[ni];
    const Rule* rule = rules_[ni];
    if (rule == nullptr || train_plan_->nodes[ni].kind == NodePlan::Kind::kFolded) continue;
    bool any_grad = false;
    out.assign(static_cast<size_t>(node.num_outputs()), Tensor());
    out_grads.assign(static_cast<size_t>(node.num_outputs()), Tensor());
    for (int j = 0; j < node.num_outputs(); ++j) {
      const ir::ValueId id = node.output(j);
      if (!id.valid()) continue;
      out[static_cast<size_t>(j)] = values_[static_cast<size_t>(id.index)];
      out_grads[static_cast<size_t>(j)] = grads[static_cast<size_t>(id.index)];
      any_grad = any_grad || out_grads[static_cast<size_t>(j)].defined();
    }
    if (!any_grad) continue;
    std::vector<bool> needs(static_cast<size_t>(node.num_inputs()), false);
    bool any_need = false;
    in.assign(static_cast<size_t>(node.num_inputs()), Tensor());
    for (int i = 0; i < node.num_inputs(); ++i) {
      const ir::ValueId id = node.input(i);
      if (!id.valid()) continue;
      in[static_cast<size_t>(i)] = values_[static_cast<size_t>(id.index)];
      needs[static_cast<size_t>(i)] = HasBit(rule->differentiable_inputs, i) &&
                                      needs_grad_[static_cast<size_t>(id.index)] &&
                                      !train_plan_->known[static_cast<size_t>(id.index)];
      any_need = any_need || needs[static_cast<size_t>(i)];
    }
    if (!any_need) continue;
    in_grads.assign(static_cast<size_t>(node.num_inputs()), Tensor());
    internal::BackwardContext ctx{.node = node,
                                  .opset = opset_,
                                  .inputs = in,
                                  .outputs = out,
                                  .output_grads = out_grads,
                                  .saved = saved_[ni],
                                  .needs_input_grad = needs,
                                  .input_grads = &in_grads,
                                  .pool = pool_.get()};
    RETURN_IF_ERROR(rule->backward(ctx));
    for (int i = 0; i < node.num_inputs(); ++i) {
      const size_t si = static_cast<size_t>(i);
      if (!needs[si] || !in_grads[si].defined()) continue;
      MP_CHECK(in_grads[si].shape() == in[si].shape())
          << node.Describe() << ": backward of input " << i << " has shape "
          << in_grads[si].shape().ToString() << ", expected " << in[si].shape().ToString();
      accumulate(node.input(i), in_grads[si]);
    }
  }
  for (const ir::Value& v : graph.values()) {
    const size_t vi = static_cast<size_t>(v.id().index);
    if (param_of_value_[vi] < 0 || !grads[vi].defined()) continue;
    AddInto(pool_.get(), grads[vi], parameters_[static_cast<size_t>(param_of_value_[vi])].grad);
  }
  input_grads_.assign(feeds_.size(), Tensor());
  for (size_t k = 0; k < feeds_.size() && options_.input_gradients; ++k) {
    const size_t vi = static_cast<size_t>(feeds_[k].index);
    input_grads_[k] = grads[vi].defined() ? grads[vi] : internal::ZerosLike(values_[vi].shape());
  }
  have_backward_ = true;
  return absl::OkStatus();
}

void GradGraph::ZeroGrad() {
  for (Parameter& p : parameters_) {
    float* g = p.grad.mutable_data<float>();
    std::fill(g, g + p.grad.num_elements(), 0.0f);
  }
}

absl::StatusOr<ir::Model> GradGraph::ExportModel() const {
  ir::Model out = model_;
  for (const ir::Value& v : model_.graph.values()) {
    const size_t vi = static_cast<size_t>(v.id().index);
    if (param_of_value_[vi] >= 0) {
      out.graph.SetConstant(v.id(),
                            parameters_[static_cast<size_t>(param_of_value_[vi])].value.Clone());
    } else if (state_of_value_[vi] >= 0) {
      out.graph.SetConstant(v.id(), state_[static_cast<size_t>(state_of_value_[vi])].Clone());
    }
  }
  return out;
}

absl::StatusOr<Tensor> GradGraph::InputGradient(std::string_view name) const {
  for (size_t k = 0; k < feed_info_.size(); ++k) {
    if (feed_info_[k].name != name) continue;
    if (!options_.input_gradients) {
      return absl::FailedPreconditionError(
          "InputGradient: create the GradGraph with input_gradients = true");
    }
    if (!have_backward_) {
      return absl::FailedPreconditionError("InputGradient: no Backward since the last Forward");
    }
    return input_grads_[k];
  }
  return absl::NotFoundError(StrCat("'", name, "' is not a graph input"));
}

std::vector<std::string> GradGraph::StateNames() const {
  std::vector<std::string> names;
  for (ir::ValueId id : state_values_) names.push_back(model_.graph.value(id).name());
  return names;
}

}  // namespace mp::train
