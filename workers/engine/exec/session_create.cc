// Session::Create: validation, schema lookup, Create-time constant folding.
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/qdq_fusion.h"
#include "workers/engine/exec/session_impl.h"
#include "workers/engine/ir/rewrites.h"
#include "workers/engine/ir/verify.h"

namespace mp::exec {
namespace internal {

absl::Status FoldConstants(ir::Graph& graph, int64_t opset,
                           const std::vector<const OpSchema*>& schemas, int64_t max_tensor_bytes,
                           kernels::ThreadPool* pool) {
  int folded = 0;
  std::vector<InputInfo> infos;
  std::vector<Tensor> values;
  for (int n = 0; n < graph.num_nodes(); ++n) {
    const ir::Node& node = graph.node(ir::NodeId{n});
    bool all_constant = true;
    bool any_output = false;
    for (int j = 0; j < node.num_outputs(); ++j) any_output |= node.output(j).valid();
    infos.assign(static_cast<size_t>(node.num_inputs()), InputInfo{});
    values.assign(static_cast<size_t>(node.num_inputs()), Tensor());
    for (int i = 0; i < node.num_inputs() && all_constant; ++i) {
      const ir::ValueId id = node.input(i);
      if (!id.valid()) continue;
      const ir::Value& v = graph.value(id);
      if (!v.is_constant()) {
        all_constant = false;
        break;
      }
      InputInfo& info = infos[static_cast<size_t>(i)];
      info.present = true;
      info.dtype = v.initializer().dtype();
      info.shape = v.initializer().shape();
      info.value = &v.initializer();
      info.name = v.name();
      values[static_cast<size_t>(i)] = v.initializer();
    }
    if (!all_constant || !any_output) continue;
    const OpSchema& schema = *schemas[static_cast<size_t>(n)];
    ASSIGN_OR_RETURN(PreparedOp op, PrepareNode(node, schema, opset, infos, max_tensor_bytes));
    ASSIGN_OR_RETURN(std::vector<Tensor> outputs, EvaluateNode(node, op, values, pool));
    // SetConstant detaches the output from the node; collect ids first.
    std::vector<ir::ValueId> out_ids = node.outputs();
    for (size_t j = 0; j < out_ids.size(); ++j) {
      if (out_ids[j].valid()) graph.SetConstant(out_ids[j], std::move(outputs[j]));
    }
    ++folded;
  }
  if (folded > 0) graph.RemoveDeadNodes(/*keep_unused_initializers=*/false);
  return absl::OkStatus();
}

}  // namespace internal

namespace {

absl::Status LookupSchemas(const ir::Graph& graph, int64_t opset,
                           std::vector<const OpSchema*>* schemas) {
  schemas->clear();
  for (const ir::Node& node : graph.nodes()) {
    ASSIGN_OR_RETURN(const OpSchema* schema, OpRegistry::Default().Lookup(node, opset));
    schemas->push_back(schema);
  }
  return absl::OkStatus();
}

}  // namespace

Session::Session(ir::Model model, SessionOptions options)
    : model_(std::move(model)),
      options_(options),
      impl_(std::make_unique<Impl>(options.num_threads)) {}

Session::~Session() = default;

int Session::num_threads() const { return impl_->pool.num_threads(); }

absl::StatusOr<std::unique_ptr<Session>> Session::Create(ir::Model model, SessionOptions options) {
  if (options.num_threads < 1 || options.num_threads > 1024) {
    return absl::InvalidArgumentError(
        StrCat("num_threads must be in [1, 1024], got ", options.num_threads));
  }
  if (options.max_cached_plans < 1) options.max_cached_plans = 1;
  const std::optional<int64_t> opset = model.OpsetVersion("");
  if (!opset.has_value()) {
    return absl::InvalidArgumentError("model imports no default-domain (ai.onnx) opset");
  }
  ir::Graph& graph = model.graph;
  RETURN_IF_ERROR(ir::Verify(graph));
  RETURN_IF_ERROR(graph.SortNodesTopologically());
  if (graph.outputs().empty()) return absl::InvalidArgumentError("graph has no outputs");
  if (options.fold_constants) {
    // DESIGN.md §5: BatchNormalization folded into the preceding Conv/Gemm where legal;
    // Identity and inference-mode Dropout removed.
    RETURN_IF_ERROR(ir::SimplifyForInference(model).status());
  }
  if (options.fuse_qdq) RETURN_IF_ERROR(FuseQdq(&model).status());  // before folding

  std::unique_ptr<Session> session(new Session(std::move(model), options));
  Impl& impl = *session->impl_;
  ir::Graph& g = session->model_.graph;
  impl.opset = *opset;
  RETURN_IF_ERROR(LookupSchemas(g, impl.opset, &impl.schemas));
  if (options.fold_constants) {
    RETURN_IF_ERROR(
        internal::FoldConstants(g, impl.opset, impl.schemas, options.max_tensor_bytes, &impl.pool));
    RETURN_IF_ERROR(LookupSchemas(g, impl.opset, &impl.schemas));
  }

  bool all_static = true;
  for (ir::ValueId id : g.inputs()) {
    const ir::Value& v = g.value(id);
    if (v.is_constant()) continue;  // an initializer listed as input: a constant
    impl.feeds.push_back(id);
    session->inputs_.push_back({v.name(), v.dtype(), v.shape()});
    if (!v.shape().is_static() || v.dtype() == DType::kUndefined) all_static = false;
  }
  for (ir::ValueId id : g.outputs()) {
    const ir::Value& v = g.value(id);
    session->outputs_.push_back({v.name(), v.dtype(), v.shape()});
  }
  if (all_static) {
    std::vector<Shape> shapes;
    for (const IoInfo& io : session->inputs_) {
      ASSIGN_OR_RETURN(Shape s, io.shape.ToShape());
      shapes.push_back(std::move(s));
    }
    // A plan needing feed values (op.h NotKnownAtPlanTime) is made at Run instead.
    absl::Status status = session->GetPlanStats(shapes).status();
    if (!status.ok() && !IsNotKnownAtPlanTime(status)) return status;
  }
  return session;
}

}  // namespace mp::exec
