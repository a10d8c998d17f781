// mp::exec::OpRegistry — the one table of supported operators (DESIGN.md §4 rule 9).
//
// The table is plain data: OpSchema entries (op.h) keyed by (domain, op_type) with a
// default-domain opset range each. It drives the session, the conformance tests and the
// benchmarks; nothing registers itself through static initialisers. Instead each operator
// family file ops_<family>.cc defines one function
//
//     void Register<Family>Ops(OpRegistry* registry);
//
// which calls registry->Register({...}) once per entry, and op_registry.cc calls every such
// function, in a fixed order, when building OpRegistry::Default(). Adding a family means:
//   1. write ops_<family>.cc with Register<Family>Ops,
//   2. declare it in the marked list below,
//   3. call it in the marked list in op_registry.cc,
//   4. add the file to MP_EXEC_OPS_SOURCES in exec/CMakeLists.txt.
//
// Example entry (opset-split op):
//   registry->Register({.op_type = "Squeeze", .min_opset = 1, .max_opset = 12,
//                       .min_inputs = 1, .max_inputs = 1, .prepare = &PrepareSqueezeAttr});
//   registry->Register({.op_type = "Squeeze", .min_opset = 13,
//                       .min_inputs = 1, .max_inputs = 2, .prepare = &PrepareSqueezeInput});
#ifndef MP_WORKERS_ENGINE_EXEC_OP_REGISTRY_H_
#define MP_WORKERS_ENGINE_EXEC_OP_REGISTRY_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/ir/graph.h"

namespace mp::exec {

class OpRegistry {
 public:
  OpRegistry() = default;

  // Adds an entry. MP_CHECKs (programming errors): non-empty op_type, a prepare function,
  // sane arity (0 <= min <= max) and opset range, and no overlap with an existing entry of
  // the same (domain, op_type).
  void Register(const OpSchema& schema);

  // The entry serving `op_type` in `domain` at default-domain `opset`, or nullptr.
  const OpSchema* Find(std::string_view domain, std::string_view op_type, int64_t opset) const;
  // True if any entry exists for (domain, op_type), whatever the opset.
  bool Knows(std::string_view domain, std::string_view op_type) const;

  // The schema for `node` at `opset`, with the node's arity checked against it:
  //   UNIMPLEMENTED "node 'x' (Foo): op Foo is not supported" (domain other than the
  //     default reads "op com.microsoft.Foo is not supported");
  //   UNIMPLEMENTED "node 'x' (Foo): op Foo is not supported at opset 9 (supported: 11..21)";
  //   INVALID_ARGUMENT "node 'x' (Foo): has 4 inputs, expected 1..3" (same for outputs).
  absl::StatusOr<const OpSchema*> Lookup(const ir::Node& node, int64_t opset) const;

  // Every entry in registration order.
  std::span<const OpSchema> schemas() const { return schemas_; }

  // The table with every family registered; built once, thread-safe, never destroyed.
  static const OpRegistry& Default();

 private:
  std::vector<OpSchema> schemas_;
};

// ==== Family registration functions: one line per ops_<family>.cc ========================
// (Keep this list and the call list in op_registry.cc in the same order.)
void RegisterShapeOps(OpRegistry* registry);      // ops_shape.cc: Reshape, Flatten, Squeeze...
void RegisterTransformOps(OpRegistry* registry);  // ops_transform.cc: Transpose, Concat, Gather...
void RegisterGeneratorOps(OpRegistry* registry);  // ops_generator.cc: Constant, Range, Cast...
void RegisterSliceOps(OpRegistry* registry);      // ops_slice.cc: Slice
void RegisterCastOps(OpRegistry* registry);       // ops_cast.cc: Cast, CastLike
void RegisterSelectOps(OpRegistry* registry);     // ops_select.cc: Where, Equal
void RegisterPadOps(OpRegistry* registry);        // ops_pad.cc: Pad
// ---- compute families (the "ops" helper adds its lines below) ----
// ops_binary.cc: Add Sub Mul Div Pow PRelu Max Min Sum Mean; ops_unary.cc: Relu LeakyRelu
// Sigmoid Tanh Clip HardSigmoid HardSwish Erf Gelu Exp Log Sqrt Neg Abs Reciprocal;
// ops_gemm.cc: Gemm MatMul; ops_conv.cc: Conv ConvTranspose; ops_pool.cc: MaxPool
// AveragePool GlobalAveragePool GlobalMaxPool; ops_norm.cc: BatchNormalization
// LayerNormalization; ops_softmax.cc: Softmax LogSoftmax; ops_reduce.cc: ReduceMean
// ReduceSum ReduceMax ReduceMin.
void RegisterBinaryOps(OpRegistry* registry);
void RegisterUnaryOps(OpRegistry* registry);
void RegisterGemmOps(OpRegistry* registry);
void RegisterConvOps(OpRegistry* registry);
void RegisterPoolOps(OpRegistry* registry);
void RegisterNormOps(OpRegistry* registry);
void RegisterSoftmaxOps(OpRegistry* registry);
void RegisterReduceOps(OpRegistry* registry);
// ops_quant*.cc: QuantizeLinear DequantizeLinear DynamicQuantizeLinear MatMulInteger
// QLinearMatMul ConvInteger QLinearConv.
void RegisterQuantOps(OpRegistry* registry);
// ==== end of family list ================================================================

}  // namespace mp::exec

#endif  // MP_WORKERS_ENGINE_EXEC_OP_REGISTRY_H_
