// mp::exec — runs an ir::Model on CPU. This header is the module's documentation.
//
//   ASSIGN_OR_RETURN(auto session, Session::Create(std::move(model), {.num_threads = 4}));
//   ASSIGN_OR_RETURN(NamedTensors outs, session->Run({{"x", x}}));
//
// Create (once):
//   - verifies the graph (ir::Verify) and sorts it topologically;
//   - requires a default-domain opset import and looks up every node's OpSchema
//     (op_registry.h) for that opset: an unknown op is UNIMPLEMENTED
//     "node 'x' (Foo): op Foo is not supported", whatever the input shapes;
//   - folds constants: every node whose inputs are all constants (initializers or already
//     folded) is run once and its outputs become initializers; dead nodes are dropped;
//   - if every graph input has a fully static declared shape, plans for it right away, so
//     attribute and shape errors surface at Create.
// Graph inputs that also have an initializer (IR < 4 exporters list weights as inputs) are
// treated as constants: they are not feedable and not listed in inputs().
//
// Plan (once per input-shape signature, cached, at most SessionOptions::max_cached_plans):
//   - shape/dtype inference: each node's Prepare (op.h) sees concrete input shapes and the
//     values known at plan time, and declares its outputs' dtypes and shapes;
//   - plan-time folding: outputs Prepare declares as known (Shape, Size), and nodes whose
//     inputs are all known (the Shape -> Gather -> Concat -> Reshape chains exporters write)
//     are computed during planning and never run again for this signature;
//   - memory: every remaining intermediate gets an offset in one arena, assigned greedily
//     by size over liveness intervals [producing step, last consuming step], so tensors
//     whose lifetimes do not overlap share bytes (an output never aliases its own inputs).
//     Graph outputs are allocated fresh per Run (the caller owns them).
//
// Run (thread-safe; concurrent calls are serialised on one mutex):
//   - validates the feeds: every feedable graph input exactly once, no unknown names, dtype
//     and rank equal to the declaration and every known declared dim equal:
//     INVALID_ARGUMENT "input 'x': expected float32, got int64" / "input 'x': dim 1 is 5,
//     expected 3 (declared [N, 3, 224, 224])" / "missing input 'x'";
//   - unless the Run has an observer or extra outputs, uses a plan with fused epilogues
//     (plan.h FuseEpilogues: Conv -> [Add] -> [Relu/Clip] as one step, the intermediates
//     never materialised; same bytes as the unfused plan);
//   - executes the plan's steps in order on a kernels::ThreadPool of num_threads threads;
//     kernels split only over independent output elements, so outputs are bit-identical
//     for any num_threads;
//   - batch slices (batch_split.h): when, on the fused plan and without timings, every
//     feed has the same leading dim N, every computed value keeps it as its leading dim
//     and no op mixes images (checked op by op: Softmax over axis 1, not 0; Gemm without
//     transA; no DynamicQuantizeLinear; ...), the batch runs as slices of about
//     kSplitStepBytes per step, so intermediates stay in cache. On several threads, with
//     at least as many slices as threads, the slices run side by side, one thread each,
//     instead of each op splitting. The slice sizes depend only on the graph and the feed
//     shapes, so outputs stay bit-identical for any num_threads (but may round differently
//     from an unsliced run: a kernel may choose another path for fewer images);
//   - returns the graph outputs in declaration order, then RunOptions::extra_outputs.
//
// Observing intermediates (PTQ calibration): RunOptions::observer is called after each step
// for each of its outputs (a view valid only during the call; Clone() to keep it);
// RunOptions::extra_outputs returns named values (any value: intermediate, input, constant)
// as copies. RunOptions::timings collects per-step wall time for profiling.
#ifndef MP_WORKERS_ENGINE_EXEC_SESSION_H_
#define MP_WORKERS_ENGINE_EXEC_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::exec {

struct SessionOptions {
  // Threads used by kernels, counting the calling thread (>= 1).
  int num_threads = 1;
  // Any single tensor (intermediate, output or folded constant) above this is
  // RESOURCE_EXHAUSTED at plan time, before allocating.
  int64_t max_tensor_bytes = int64_t{1} << 32;
  // The planned arena above this is RESOURCE_EXHAUSTED.
  int64_t max_arena_bytes = int64_t{1} << 34;
  // Plans kept (least recently used evicted).
  int max_cached_plans = 8;
  // Run the Create-time rewrites: BatchNormalization folding, Identity/Dropout removal and
  // constant folding (off only for tests of the planner).
  bool fold_constants = true;
  // Fuse QDQ patterns into exact integer ops (QLinearConv / QLinearMatMul / ...) before
  // constant folding, as ONNX Runtime does; see qdq_fusion.h. Off: the QDQ graph runs as
  // written (DequantizeLinear -> float op -> QuantizeLinear).
  bool fuse_qdq = false;
  // Run batches in slices when the graph keeps images apart (see Run below); off runs every
  // op over the whole batch (tests, A/B benchmarks).
  bool split_batch = true;
};

// A graph input or output as declared.
struct IoInfo {
  std::string name = {};
  tensor::DType dtype = tensor::DType::kUndefined;  // kUndefined when not declared
  ir::PartialShape shape = {};
};

using NamedTensors = std::vector<std::pair<std::string, tensor::Tensor>>;

struct NodeTiming {
  std::string node;       // node name (may be empty)
  std::string op_type;    // or the fused group, e.g. "Conv+Add+Relu"
  int64_t nanos = 0;      // wall time
  int64_t cpu_nanos = 0;  // CPU time of the calling thread (not the pool's other threads)
};

// Called with each computed value (name, tensor view); a non-OK status aborts the Run and is
// returned from it.
using ValueObserver =
    std::function<absl::Status(std::string_view name, const tensor::Tensor& value)>;

struct RunOptions {
  std::vector<std::string> extra_outputs = {};
  ValueObserver observer = {};
  std::vector<NodeTiming>* timings = nullptr;  // appended to when non-null
};

// Facts about the plan for one input-shape signature (tests, profiling).
struct PlanStats {
  int num_steps = 0;               // kernels run per Run
  int num_folded_nodes = 0;        // nodes computed at plan time
  int64_t arena_bytes = 0;         // bytes of the shared intermediate arena
  int64_t intermediate_bytes = 0;  // sum of all arena tensors' sizes (no reuse)
};

// Concrete type of one value for a given input-shape signature.
struct ValueType {
  std::string name;
  tensor::DType dtype = tensor::DType::kUndefined;
  tensor::Shape shape;
};

// How Run executes a batch of given input shapes (session.h "Run": batch slices).
struct BatchSlicing {
  std::vector<int64_t> rows = {};  // rows per slice, in order; empty: the batch runs whole
  std::string whole_reason = {};   // why it runs whole, e.g. "node 's' (Softmax): works
                                   // across the batch (axis 0)"
};

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(ir::Model model,
                                                         SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  absl::StatusOr<NamedTensors> Run(const NamedTensors& feeds, const RunOptions& options = {});

  // The feedable inputs (graph inputs without an initializer) and outputs, as declared.
  const std::vector<IoInfo>& inputs() const { return inputs_; }
  const std::vector<IoInfo>& outputs() const { return outputs_; }
  // The model after Create's folding (what actually runs).
  const ir::Model& model() const { return model_; }
  int num_threads() const;

  // Plans for `input_shapes` (one per inputs() entry, in order) if not cached, and reports
  // on it / returns every value's concrete type. Same validation as Run.
  absl::StatusOr<PlanStats> GetPlanStats(const std::vector<tensor::Shape>& input_shapes);
  absl::StatusOr<std::vector<ValueType>> InferTypes(const std::vector<tensor::Shape>& input_shapes);
  // How a Run with `input_shapes` slices the batch (plans and decides if not done yet).
  absl::StatusOr<BatchSlicing> GetBatchSlicing(const std::vector<tensor::Shape>& input_shapes);

  struct Impl;  // opaque (session_impl.h)

 private:
  Session(ir::Model model, SessionOptions options);

  ir::Model model_;
  SessionOptions options_;
  std::vector<IoInfo> inputs_;
  std::vector<IoInfo> outputs_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp::exec

#endif  // MP_WORKERS_ENGINE_EXEC_SESSION_H_
