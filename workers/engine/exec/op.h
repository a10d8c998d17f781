// mp::exec op-kernel interface: how one ONNX operator is validated, shape-inferred and run.
//
// Life cycle of an op inside a Session (session.h):
//
//   1. Lookup. The session finds the OpSchema for (node.domain(), node.op_type(), opset) in
//      the OpRegistry (op_registry.h). No entry -> UNIMPLEMENTED
//      "node 'x' (Foo): op Foo is not supported"; an entry exists but not for this opset ->
//      UNIMPLEMENTED "... op Foo is not supported at opset 9 (supported: 11..21)".
//      Arity is checked against the schema before Prepare is called, so Prepare may index
//      ctx.inputs[i] for i < min_inputs without checking (optional trailing inputs may be
//      omitted: check ctx.has_input(i)).
//
//   2. Prepare(ctx) — once per node per input-shape signature (the session caches the plan
//      keyed by the graph's input shapes, so Prepare runs again when, e.g., the batch size
//      changes; keep it cheap relative to a run but it may pack weights). It receives every
//      input's dtype and CONCRETE shape, and the input's value when it is known at plan time
//      (an initializer, a folded constant, or computed from shapes, e.g. Shape -> Gather ->
//      Concat chains). It must:
//        - validate attributes: read them with node.GetInt/GetInts/... (graph.h), which
//          already produce "node 'x' (Op): attribute 'a' is floats, expected int";
//          unsupported attribute VALUES -> Unimplemented(ctx, "attribute 'auto_pad' value
//          'VALID' is not supported") naming the attribute;
//        - validate input dtypes and shapes: bad ones -> InvalidInput(ctx, i, "has 3 dims,
//          expected 4") which reads "node 'x' (Conv): input 1 ('w'): has 3 dims, expected 4";
//          an unsupported dtype -> UnsupportedDType(ctx, i);
//        - compute every PRESENT output's dtype and shape (PreparedOp::outputs, one entry per
//          node output slot; entries for omitted slots are ignored). Build output shapes with
//          MakeOutputShape(ctx, output_index, dims), which rejects negative dims,
//          INVALID_ARGUMENT on overflow, and RESOURCE_EXHAUSTED above ctx.max_tensor_bytes;
//        - optionally set OutputInfo::value when the output is known without running (Shape
//          and Size do this). If EVERY present output has a value, `kernel` may be null;
//        - otherwise create the kernel: an OpKernel subclass holding the validated
//          attributes, precomputed loop bounds, and packed constant weights
//          (kernels::PackedB::Pack for a constant GEMM/Conv B). Constant inputs may be
//          captured by value (Tensor copies are shallow and immutable once constant).
//      Prepare must not run the computation on non-constant data: it has none.
//
//   3. Run(RunContext) — many times, possibly concurrently on the same OpKernel instance
//      (a session runs slices of a batch side by side, each with its own tensors and
//      pool): Run must not write the kernel's members; scratch is local. ctx.inputs[i] holds input
//      i (undefined Tensor for an omitted optional input) with exactly the dtype/shape seen in
//      Prepare. ctx.outputs[j] is PREALLOCATED by the session with the dtype/shape declared in
//      Prepare (a view into the session arena; undefined for omitted output slots): write
//      every element, never reallocate or reshape. Its initial contents are garbage. The
//      output buffers never alias the inputs. Use ctx.pool (never null) for parallel loops;
//      results must be bit-identical for any thread count (split over independent output
//      elements only, never a reduction across chunks; see kernels/parallel.h).
//      Run returns an error only for conditions Prepare could not see (data-dependent ones,
//      e.g. a Gather index out of range: INVALID_ARGUMENT naming the node and input).
//
// Constant folding. A node whose inputs are all constant is run once by the session at
// Create/plan time and its outputs become constants, so kernels need no special path for it.
//
// Determinism: a kernel is a pure function of (attributes, inputs); no global state, no
// randomness, no dependence on thread count or timing.
#ifndef MP_WORKERS_ENGINE_EXEC_OP_H_
#define MP_WORKERS_ENGINE_EXEC_OP_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/kernels/parallel.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::exec {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

// What Prepare knows about one input slot.
struct InputInfo {
  bool present = false;  // false for an omitted optional input (then the rest is unset)
  DType dtype = DType::kUndefined;
  Shape shape;  // concrete
  // The input's value when known at plan time, else nullptr. Points into session-owned
  // storage that outlives the PreparedOp.
  const Tensor* value = nullptr;
  std::string_view name;  // the value's name, for messages

  bool is_constant() const { return value != nullptr; }
};

// Arguments of OpSchema::prepare.
struct PrepareContext {
  const ir::Node& node;
  // The model's default-domain ("" / "ai.onnx") opset version.
  int64_t opset = 0;
  // One entry per node input slot (size == node.num_inputs()).
  std::span<const InputInfo> inputs;
  // Whether output slot j is requested (size == node.num_outputs()). An op may skip work for
  // unrequested outputs (e.g. Dropout's mask); their OutputInfo is ignored.
  std::span<const bool> outputs_present;
  // Cap on any single tensor this op creates (SessionOptions::max_tensor_bytes).
  int64_t max_tensor_bytes = int64_t{1} << 32;

  int num_inputs() const { return static_cast<int>(inputs.size()); }
  int num_outputs() const { return static_cast<int>(outputs_present.size()); }
  // Input slot i exists and is not omitted.
  bool has_input(int i) const {
    return i >= 0 && i < num_inputs() && inputs[static_cast<size_t>(i)].present;
  }
  bool has_output(int j) const {
    return j >= 0 && j < num_outputs() && outputs_present[static_cast<size_t>(j)];
  }
  const InputInfo& input(int i) const { return inputs[static_cast<size_t>(i)]; }
};

// Arguments of OpKernel::Run. Spans have one entry per node input / output slot.
struct RunContext {
  std::span<const Tensor> inputs;
  std::span<Tensor> outputs;
  kernels::ThreadPool* pool = nullptr;  // never null when called by the session
};

// A prepared operator instance (one per node per plan).
class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual absl::Status Run(RunContext& ctx) = 0;
};

// Declared type of one output slot.
struct OutputInfo {
  DType dtype = DType::kUndefined;
  Shape shape;
  // Set when the value is known at plan time without running (e.g. Shape); dtype/shape must
  // then equal value's.
  Tensor value;
};

// The result of Prepare.
struct PreparedOp {
  std::vector<OutputInfo> outputs;   // size == node.num_outputs()
  std::unique_ptr<OpKernel> kernel;  // null only if every present output has a value
};

using PrepareFn = absl::StatusOr<PreparedOp> (*)(const PrepareContext& ctx);

// One registry entry (DESIGN.md §4 rule 9: registries are data).
struct OpSchema {
  std::string_view op_type = {};  // "Conv"
  std::string_view domain = {};   // "" = default ONNX domain
  int64_t min_opset = 1;          // inclusive range of default-domain opsets this entry serves
  int64_t max_opset = 1 << 20;    // (several entries per op are allowed, ranges must not overlap)
  int min_inputs = 0;             // inclusive arity (counting omitted optional slots)
  int max_inputs = 0;
  int min_outputs = 1;
  int max_outputs = 1;
  PrepareFn prepare = nullptr;
};

// ---- Error helpers (messages name node, input and problem) ------------------------------

// INVALID_ARGUMENT "node 'x' (Op): input 1 ('w'): <what>".
absl::Status InvalidInput(const PrepareContext& ctx, int input, std::string_view what);
// INVALID_ARGUMENT "node 'x' (Op): <what>".
absl::Status InvalidNode(const ir::Node& node, std::string_view what);
// UNIMPLEMENTED "node 'x' (Op): <what>".
absl::Status Unimplemented(const ir::Node& node, std::string_view what);
inline absl::Status Unimplemented(const PrepareContext& ctx, std::string_view what) {
  return Unimplemented(ctx.node, what);
}
// UNIMPLEMENTED "node 'x' (Op): input 0 ('x'): dtype int8 is not supported".
absl::Status UnsupportedDType(const PrepareContext& ctx, int input);
// OK if input `input` is present with one of `allowed`, else UnsupportedDType (or
// InvalidInput "is required" when omitted).
absl::Status RequireDType(const PrepareContext& ctx, int input,
                          std::initializer_list<DType> allowed);
// OK if input `input` is present with rank in [min_rank, max_rank], else InvalidInput.
absl::Status RequireRank(const PrepareContext& ctx, int input, int min_rank, int max_rank);

// ---- Shape helpers ----------------------------------------------------------------------

// Output shape `dims` for output `output`: INVALID_ARGUMENT on a negative dim or element-count
// overflow; RESOURCE_EXHAUSTED when bytes (dims x sizeof dtype) exceed ctx.max_tensor_bytes.
// Never allocates.
absl::StatusOr<Shape> MakeOutputShape(const PrepareContext& ctx, int output, DType dtype,
                                      std::vector<int64_t> dims);

// Normalises `axis` in [-rank, rank) to [0, rank); INVALID_ARGUMENT naming `what` otherwise.
// For Unsqueeze-style axes over the OUTPUT rank pass that rank.
absl::StatusOr<int> NormalizeAxis(const ir::Node& node, int64_t axis, int rank,
                                  std::string_view what = "axis");

// ONNX multidirectional (numpy) broadcasting of several shapes; INVALID_ARGUMENT naming the
// node and both dims when incompatible.
absl::StatusOr<Shape> BroadcastShapes(const ir::Node& node, std::span<const Shape> shapes);

// Row-major element strides of `shape` (empty for a scalar).
std::vector<int64_t> RowMajorStrides(const Shape& shape);

// Strides to read an input of shape `in` broadcast to `out` (rank(out) >= rank(in), shapes
// compatible): entry d is 0 where the input dim is 1 (or missing), else the row-major stride.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out);

// The error Prepare returns when it needs the VALUE of input `input` (a shape, axes, starts,
// a Range bound, ...) but input(input).value is null. INVALID_ARGUMENT
// "node 'x' (Op): input 1 ('shape'): must be known at plan time (...)" carrying a marker the
// session recognises: when the model's graph inputs include small tensors (as in the ONNX
// conformance tests, which feed Reshape's shape as data), the session re-plans with those
// feed values known, keying its plan cache on them. ConstantInts returns it already.
absl::Status NotKnownAtPlanTime(const PrepareContext& ctx, int input);
// True for a status made by NotKnownAtPlanTime (possibly annotated since).
bool IsNotKnownAtPlanTime(const absl::Status& status);

// The value of constant input `input` as int64s (int32 or int64 tensors, any rank,
// flattened). NotKnownAtPlanTime when not constant; INVALID_ARGUMENT on another dtype.
absl::StatusOr<std::vector<int64_t>> ConstantInts(const PrepareContext& ctx, int input);

}  // namespace mp::exec

#endif  // MP_WORKERS_ENGINE_EXEC_OP_H_
