#include "workers/engine/exec/plan.h"

#include <algorithm>
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/memory_plan.h"

namespace mp::exec::internal {

absl::StatusOr<PreparedOp> PrepareNode(const ir::Node& node, const OpSchema& schema, int64_t opset,
                                       std::span<const InputInfo> inputs,
                                       int64_t max_tensor_bytes) {
  std::vector<bool> present_vec(static_cast<size_t>(node.num_outputs()));
  for (int j = 0; j < node.num_outputs(); ++j) {
    present_vec[static_cast<size_t>(j)] = node.output(j).valid();
  }
  // std::vector<bool> has no contiguous storage: copy into a plain array.
  std::unique_ptr<bool[]> present(new bool[present_vec.size() + 1]);
  for (size_t j = 0; j < present_vec.size(); ++j) present[j] = present_vec[j];
  PrepareContext ctx{.node = node,
                     .opset = opset,
                     .inputs = inputs,
                     .outputs_present = std::span<const bool>(present.get(), present_vec.size()),
                     .max_tensor_bytes = max_tensor_bytes};
  ASSIGN_OR_RETURN(PreparedOp op, schema.prepare(ctx));
  if (static_cast<int>(op.outputs.size()) != node.num_outputs()) {
    return absl::InternalError(StrCat(node.Describe(), ": prepare declared ", op.outputs.size(),
                                      " outputs, the node has ", node.num_outputs()));
  }
  bool all_known = true;
  for (int j = 0; j < node.num_outputs(); ++j) {
    if (!present_vec[static_cast<size_t>(j)]) continue;
    const OutputInfo& out = op.outputs[static_cast<size_t>(j)];
    if (tensor::DTypeSize(out.dtype) == 0) {
      return absl::InternalError(
          StrCat(node.Describe(), ": prepare left output ", j, " without a dtype"));
    }
    const int64_t elem = static_cast<int64_t>(tensor::DTypeSize(out.dtype));
    if (out.shape.num_elements() > max_tensor_bytes / elem) {
      return absl::ResourceExhaustedError(
          StrCat(node.Describe(), ": output ", j, " ", tensor::DTypeName(out.dtype),
                 out.shape.ToString(), " exceeds the limit of ", max_tensor_bytes, " bytes"));
    }
    if (out.value.defined()) {
      if (out.value.dtype() != out.dtype || !(out.value.shape() == out.shape)) {
        return absl::InternalError(StrCat(node.Describe(), ": output ", j, " value ",
                                          out.value.DebugString(), " disagrees with its type"));
      }
    } else {
      all_known = false;
    }
  }
  if (op.kernel == nullptr && !all_known) {
    return absl::InternalError(StrCat(node.Describe(), ": prepare returned no kernel"));
  }
  return op;
}

absl::StatusOr<std::vector<Tensor>> EvaluateNode(const ir::Node& node, PreparedOp& op,
                                                 std::span<const Tensor> inputs,
                                                 kernels::ThreadPool* pool) {
  std::vector<Tensor> outputs(static_cast<size_t>(node.num_outputs()));
  bool need_run = false;
  for (int j = 0; j < node.num_outputs(); ++j) {
    if (!node.output(j).valid()) continue;
    OutputInfo& info = op.outputs[static_cast<size_t>(j)];
    if (info.value.defined()) {
      outputs[static_cast<size_t>(j)] = info.value;
      continue;
    }
    need_run = true;
    ASSIGN_OR_RETURN(outputs[static_cast<size_t>(j)],
                     Tensor::Allocate(info.dtype, info.shape, int64_t{1} << 62));
  }
  if (!need_run) return outputs;
  std::vector<Tensor> in(inputs.begin(), inputs.end());
  RunContext ctx{.inputs = in, .outputs = outputs, .pool = pool};
  RETURN_IF_ERROR(op.kernel->Run(ctx));
  // Values declared by Prepare win over whatever the kernel wrote.
  for (int j = 0; j < node.num_outputs(); ++j) {
    const OutputInfo& info = op.outputs[static_cast<size_t>(j)];
    if (node.output(j).valid() && info.value.defined())
      outputs[static_cast<size_t>(j)] = info.value;
  }
  return outputs;
}

absl::StatusOr<std::unique_ptr<Plan>> BuildPlan(const PlanInputs& in) {
  const ir::Graph& graph = *in.graph;
  auto plan = std::make_unique<Plan>();
  plan->key_dtypes.assign(in.feed_dtypes.begin(), in.feed_dtypes.end());
  plan->key.assign(in.feed_shapes.begin(), in.feed_shapes.end());
  plan->values.resize(static_cast<size_t>(graph.num_values()));
  auto slot = [&](ir::ValueId id) -> ValueSlot& {
    return plan->values[static_cast<size_t>(id.index)];
  };
  for (const ir::Value& v : graph.values()) {
    if (!v.is_constant()) continue;
    ValueSlot& s = slot(v.id());
    s.storage = Storage::kConstant;
    s.constant = v.initializer();
    s.dtype = v.initializer().dtype();
    s.shape = v.initializer().shape();
  }
  for (size_t f = 0; f < in.feeds.size(); ++f) {
    ValueSlot& s = slot(in.feeds[f]);
    s.dtype = in.feed_dtypes[f];
    s.shape = in.feed_shapes[f];
    s.feed_index = static_cast<int>(f);
    if (!in.feed_values.empty() && in.feed_values[f] != nullptr) {
      s.storage = Storage::kConstant;  // value-keyed plan: the feed is a plan constant
      s.constant = in.feed_values[f]->Clone();
    } else {
      s.storage = Storage::kFeed;
    }
  }

  std::vector<int> step_of_node(static_cast<size_t>(graph.num_nodes()), -1);
  std::vector<InputInfo> infos;
  std::vector<Tensor> known_inputs;
  for (const ir::Node& node : graph.nodes()) {
    infos.assign(static_cast<size_t>(node.num_inputs()), InputInfo{});
    known_inputs.assign(static_cast<size_t>(node.num_inputs()), Tensor());
    bool all_constant = true;
    for (int i = 0; i < node.num_inputs(); ++i) {
      const ir::ValueId id = node.input(i);
      if (!id.valid()) continue;
      const ValueSlot& s = slot(id);
      if (s.storage == Storage::kNone) {
        return absl::InvalidArgumentError(StrCat(node.Describe(), ": input ", i, " ('",
                                                 graph.value(id).name(),
                                                 "') is not computed by any node"));
      }
      InputInfo& info = infos[static_cast<size_t>(i)];
      info.present = true;
      info.dtype = s.dtype;
      info.shape = s.shape;
      info.name = graph.value(id).name();
      if (s.storage == Storage::kConstant) {
        info.value = &s.constant;
        known_inputs[static_cast<size_t>(i)] = s.constant;
      } else {
        all_constant = false;
      }
    }
    const OpSchema* schema = in.schemas[static_cast<size_t>(node.id().index)];
    ASSIGN_OR_RETURN(PreparedOp op,
                     PrepareNode(node, *schema, in.opset, infos, in.max_tensor_bytes));
    bool outputs_known = true;
    for (int j = 0; j < node.num_outputs(); ++j) {
      if (node.output(j).valid() && !op.outputs[static_cast<size_t>(j)].value.defined()) {
        outputs_known = false;
      }
    }
    if (outputs_known || all_constant) {
      ASSIGN_OR_RETURN(std::vector<Tensor> values, EvaluateNode(node, op, known_inputs, in.pool));
      for (int j = 0; j < node.num_outputs(); ++j) {
        if (!node.output(j).valid()) continue;
        ValueSlot& s = slot(node.output(j));
        s.storage = Storage::kConstant;
        s.constant = std::move(values[static_cast<size_t>(j)]);
        s.dtype = s.constant.dtype();
        s.shape = s.constant.shape();
      }
      ++plan->num_folded;
      continue;
    }
    step_of_node[static_cast<size_t>(node.id().index)] = static_cast<int>(plan->steps.size());
    for (int j = 0; j < node.num_outputs(); ++j) {
      const ir::ValueId id = node.output(j);
      if (!id.valid()) continue;
      ValueSlot& s = slot(id);
      s.storage = graph.IsGraphOutput(id) ? Storage::kOutput : Storage::kArena;
      s.dtype = op.outputs[static_cast<size_t>(j)].dtype;
      s.shape = op.outputs[static_cast<size_t>(j)].shape;
    }
    Step step{.node = node.id(), .kernel = std::move(op.kernel), .label = node.op_type()};
    for (int i = 0; i < node.num_inputs(); ++i) step.inputs.push_back(node.input(i));
    for (int j = 0; j < node.num_outputs(); ++j) step.outputs.push_back(node.output(j));
    plan->steps.push_back(std::move(step));
  }
  if (in.fuse) {
    RETURN_IF_ERROR(FuseEpilogues(in, *plan, step_of_node));
    plan->fused = true;
  }

  // Liveness of arena values over the steps that write and read them, then offsets.
  std::vector<int> first(static_cast<size_t>(graph.num_values()), -1);
  std::vector<int> last(static_cast<size_t>(graph.num_values()), -1);
  for (size_t k = 0; k < plan->steps.size(); ++k) {
    const int s = static_cast<int>(k);
    for (ir::ValueId id : plan->steps[k].outputs) {
      if (id.valid()) first[static_cast<size_t>(id.index)] = s;
    }
    for (ir::ValueId id : plan->steps[k].inputs) {
      if (id.valid()) last[static_cast<size_t>(id.index)] = s;
    }
  }
  std::vector<ir::ValueId> arena_values;
  std::vector<BufferRequest> requests;
  for (const ir::Value& v : graph.values()) {
    const ValueSlot& s = slot(v.id());
    if (s.storage != Storage::kArena) continue;
    BufferRequest req;
    req.bytes = static_cast<int64_t>(static_cast<size_t>(s.shape.num_elements()) *
                                     tensor::DTypeSize(s.dtype));
    req.first = first[static_cast<size_t>(v.id().index)];
    if (req.first < 0) return absl::InternalError(StrCat("value '", v.name(), "' has no step"));
    req.last = std::max(req.first, last[static_cast<size_t>(v.id().index)]);
    plan->intermediate_bytes += req.bytes;
    arena_values.push_back(v.id());
    requests.push_back(req);
  }
  MemoryPlan memory = PlanMemory(requests);
  if (memory.arena_bytes > in.max_arena_bytes) {
    return absl::ResourceExhaustedError(StrCat("the memory plan needs ", memory.arena_bytes,
                                               " bytes of intermediates, above the limit of ",
                                               in.max_arena_bytes));
  }
  for (size_t k = 0; k < arena_values.size(); ++k) slot(arena_values[k]).offset = memory.offsets[k];
  plan->arena_bytes = memory.arena_bytes;
  return plan;
}

}  // namespace mp::exec::internal
