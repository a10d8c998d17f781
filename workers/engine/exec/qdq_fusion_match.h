// Pattern matching and graph edits behind FuseQdq (qdq_fusion.h). Internal to
// mp_engine_exec.
#ifndef MP_WORKERS_ENGINE_EXEC_QDQ_FUSION_MATCH_H_
#define MP_WORKERS_ENGINE_EXEC_QDQ_FUSION_MATCH_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "workers/engine/ir/graph.h"

namespace mp::exec::internal {

// A DequantizeLinear's operands: q (uint8/int8), constant float32 scale, and constant zero
// point (kNoValue when omitted: 0).
struct Dq {
  ir::ValueId q, scale, zp;
  tensor::DType dtype = tensor::DType::kUndefined;  // q's element type
};

// The QuantizeLinear ending a pattern: node, its output, constant per-tensor params.
struct QOut {
  ir::NodeId node;
  ir::ValueId out, scale, zp;
  tensor::DType dtype = tensor::DType::kUndefined;
};

class FusionContext {
 public:
  explicit FusionContext(ir::Graph* graph) : g_(graph) {}
  const ir::Graph& graph() const { return *g_; }

  // `v` = DequantizeLinear(q, scale [, zp]) with one constant scale / zero point and q of a
  // known uint8/int8 dtype (declared, constant, or from its QuantizeLinear producer).
  std::optional<Dq> MatchActivationDq(ir::ValueId v) const;
  // `v` = DequantizeLinear of a CONSTANT uint8/int8 q, constant parameters per-tensor or 1-D
  // along `axis` of q (the DQ's own axis attribute, normalised, must equal it).
  std::optional<Dq> MatchWeightDq(ir::ValueId v, int axis) const;
  // The QuantizeLinear consuming float value `v` (its only use, `v` not a graph output), or
  // through one Relu (same conditions) when `allow_relu` and Q's zero point is the type's
  // minimum. Q: per-tensor constant scale and a constant zero point.
  std::optional<QOut> MatchOutputQ(ir::ValueId v, bool allow_relu = true) const;
  // `v` = DequantizeLinear of a constant int32 [channels] bias with zero point 0 and scale[c]
  // == float32(x_scale * w_scale[c]) bit for bit; returns the int32 q, else kNoValue.
  ir::ValueId MatchBias(ir::ValueId v, const Dq& x, const Dq& w, int64_t channels) const;
  // True when d's and q's dtype, scale bits and zero point agree.
  bool SameQParams(const Dq& d, const QOut& q) const;

  // w with its constant 2-D q transposed (a new initializer); scale / zero point unchanged.
  Dq TransposedWeights(const Dq& w);
  // d.zp, or a new all-zero constant of d's dtype shaped like d.scale when omitted.
  ir::ValueId ZeroPoint(const Dq& d);
  // A fresh node name derived from `base`'s.
  std::string NewNodeName(const ir::Node& base, std::string_view op_type) const;
  // Adds the node `spec` (outputs set here) producing q.out in place of q's node.
  void Replace(const QOut& q, ir::NodeSpec spec);
  // Makes movement node `op` read the quantized inputs and produce q.out directly.
  void MoveOntoQuantized(ir::NodeId op, const std::vector<Dq>& inputs, const QOut& q);

 private:
  void DetachOutput(const QOut& q);

  ir::Graph* g_;
};

}  // namespace mp::exec::internal

#endif  // MP_WORKERS_ENGINE_EXEC_QDQ_FUSION_MATCH_H_
