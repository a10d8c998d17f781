// QDQ fusion rewrites: see qdq_fusion.h. Matches are found on the unmodified ids (the pass
// only appends values/nodes and re-points outputs while matching; dead nodes are removed
// once at the end).
#include "workers/engine/exec/qdq_fusion.h"

#include <array>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/qdq_fusion_match.h"

namespace mp::exec {
namespace {

using internal::Dq;
using internal::FusionContext;
using internal::QOut;

// Conv (+ optional Relu) -> Q with DQ inputs: QLinearConv.
bool TryConv(FusionContext& fc, ir::NodeId id) {
  const ir::Graph& g = fc.graph();
  const ir::Node& conv = g.node(id);
  if (conv.num_inputs() < 2 || conv.num_outputs() != 1) return false;
  const std::optional<Dq> x = fc.MatchActivationDq(conv.input(0));
  const std::optional<Dq> w = fc.MatchWeightDq(conv.input(1), /*axis=*/0);
  if (!x || !w) return false;
  const std::optional<QOut> q = fc.MatchOutputQ(conv.output(0));
  if (!q) return false;
  ir::ValueId bias = ir::kNoValue;
  if (conv.input(2).valid()) {
    const int64_t m = g.value(w->q).initializer().shape().dim(0);
    bias = fc.MatchBias(conv.input(2), *x, *w, m);
    if (!bias.valid()) return false;
  }
  ir::NodeSpec spec;
  spec.name = fc.NewNodeName(conv, "QLinearConv");
  spec.op_type = "QLinearConv";
  spec.inputs = {x->q,     x->scale,         fc.ZeroPoint(*x), w->q,
                 w->scale, fc.ZeroPoint(*w), q->scale,         q->zp};
  if (bias.valid()) spec.inputs.push_back(bias);
  spec.attributes = conv.attributes();
  fc.Replace(*q, std::move(spec));
  return true;
}

// Gemm / MatMul [+ Add(bias)] (+ optional Relu) -> Q with DQ inputs: QLinearMatMul, or the
// internal QLinearGemm when there is a bias.
bool TryGemm(FusionContext& fc, ir::NodeId id) {
  const ir::Graph& g = fc.graph();
  const ir::Node& node = g.node(id);
  const bool gemm = node.op_type() == "Gemm";
  if (node.num_inputs() < 2 || node.num_outputs() != 1) return false;
  bool trans_b = false;
  if (gemm) {
    const auto alpha = node.GetFloat("alpha", 1.0f);
    const auto beta = node.GetFloat("beta", 1.0f);
    const auto ta = node.GetInt("transA", 0);
    const auto tb = node.GetInt("transB", 0);
    if (!alpha.ok() || !beta.ok() || !ta.ok() || !tb.ok() || *alpha != 1.0f || *beta != 1.0f ||
        *ta != 0) {
      return false;
    }
    trans_b = *tb != 0;
  }
  const std::optional<Dq> a = fc.MatchActivationDq(node.input(0));
  const std::optional<Dq> b = fc.MatchWeightDq(node.input(1), trans_b ? 0 : 1);
  if (!a || !b || g.value(b->q).initializer().rank() != 2) return false;
  const int64_t n = g.value(b->q).initializer().shape().dim(trans_b ? 0 : 1);
  ir::ValueId out = node.output(0);
  ir::ValueId bias = ir::kNoValue;
  if (gemm && node.input(2).valid()) {
    bias = fc.MatchBias(node.input(2), *a, *b, n);
    if (!bias.valid()) return false;
  } else if (!gemm) {
    // MatMul -> Add(DQ(int32 bias)).
    const ir::Value& v = g.value(out);
    if (v.uses().size() == 1 && !g.IsGraphOutput(out)) {
      const ir::Node& add = g.node(v.uses()[0].node);
      if (add.op_type() == "Add" && add.domain().empty() && add.num_inputs() == 2) {
        const int other = 1 - v.uses()[0].input_index;
        bias = fc.MatchBias(add.input(other), *a, *b, n);
        if (!bias.valid()) return false;
        out = add.output(0);
      }
    }
  }
  const std::optional<QOut> q = fc.MatchOutputQ(out);
  if (!q) return false;
  Dq weights = *b;
  if (trans_b) weights = fc.TransposedWeights(*b);
  ir::NodeSpec spec;
  spec.inputs = {a->q,      a->scale,      fc.ZeroPoint(*a),
                 weights.q, weights.scale, fc.ZeroPoint(weights),
                 q->scale,  q->zp};
  if (bias.valid()) {
    spec.op_type = "QLinearGemm";
    spec.domain = kInternalDomain;
    spec.inputs.push_back(bias);
  } else {
    spec.op_type = "QLinearMatMul";
  }
  spec.name = fc.NewNodeName(node, spec.op_type);
  fc.Replace(*q, std::move(spec));
  return true;
}

bool IsMovementOp(const ir::Node& node) {
  static constexpr std::array<std::string_view, 5> kOps = {"Reshape", "Flatten", "Transpose",
                                                           "Squeeze", "Unsqueeze"};
  if (!node.domain().empty()) return false;
  for (std::string_view op : kOps) {
    if (node.op_type() == op) return true;
  }
  return node.op_type() == "Concat";
}

// DQ(s, z) -> movement op -> Q(s, z): the op on the quantized tensor(s).
bool TryMovement(FusionContext& fc, ir::NodeId id) {
  const ir::Graph& g = fc.graph();
  const ir::Node& node = g.node(id);
  if (node.num_outputs() != 1 || node.num_inputs() < 1) return false;
  const bool concat = node.op_type() == "Concat";
  const int data_inputs = concat ? node.num_inputs() : 1;
  std::vector<Dq> dqs;
  for (int i = 0; i < data_inputs; ++i) {
    std::optional<Dq> d = fc.MatchActivationDq(node.input(i));
    if (!d) return false;
    dqs.push_back(*d);
  }
  const std::optional<QOut> q = fc.MatchOutputQ(node.output(0), /*allow_relu=*/false);
  if (!q) return false;
  for (const Dq& d : dqs) {
    if (!fc.SameQParams(d, *q)) return false;
  }
  fc.MoveOntoQuantized(id, dqs, *q);
  return true;
}

}  // namespace

absl::StatusOr<QdqFusionStats> FuseQdq(ir::Model* model) {
  ir::Graph& graph = model->graph;
  FusionContext fc(&graph);
  QdqFusionStats stats;
  const int num_nodes = graph.num_nodes();
  for (int i = 0; i < num_nodes; ++i) {
    const ir::NodeId id{i};
    const ir::Node& node = graph.node(id);
    if (!node.domain().empty()) continue;
    if (node.op_type() == "Conv") {
      if (TryConv(fc, id)) ++stats.convs;
    } else if (node.op_type() == "Gemm" || node.op_type() == "MatMul") {
      if (TryGemm(fc, id)) ++stats.matmuls;
    } else if (IsMovementOp(node)) {
      if (TryMovement(fc, id)) ++stats.movements;
    }
  }
  if (stats.convs + stats.matmuls + stats.movements > 0) {
    graph.RemoveDeadNodes(/*keep_unused_initializers=*/false);
    RETURN_IF_ERROR(graph.SortNodesTopologically());
  }
  return stats;
}

}  // namespace mp::exec
