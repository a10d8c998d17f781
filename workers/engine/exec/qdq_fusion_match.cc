// FusionContext: see qdq_fusion_match.h.
#include "workers/engine/exec/qdq_fusion_match.h"

#include <cstring>
#include <utility>

#include "common/str_cat.h"

namespace mp::exec::internal {
namespace {

using tensor::DType;
using tensor::Tensor;

bool IsOp(const ir::Node& node, std::string_view op_type) {
  return node.domain().empty() && node.op_type() == op_type;
}

// The producer of `v` if it is op `op_type`, else nullptr.
const ir::Node* ProducerOp(const ir::Graph& g, ir::ValueId v, std::string_view op_type) {
  if (!v.valid()) return nullptr;
  const ir::NodeId p = g.value(v).producer();
  if (!p.valid()) return nullptr;
  const ir::Node& node = g.node(p);
  return IsOp(node, op_type) ? &node : nullptr;
}

const Tensor* Constant(const ir::Graph& g, ir::ValueId v) {
  if (!v.valid() || !g.value(v).is_constant()) return nullptr;
  return &g.value(v).initializer();
}

bool IsQuantType(DType t) { return t == DType::kUint8 || t == DType::kInt8; }

float ScaleAt(const Tensor& t, int64_t i) {
  return t.num_elements() == 1 ? t.data<float>()[0] : t.data<float>()[i];
}

int32_t ZeroPointValue(const ir::Graph& g, ir::ValueId zp) {
  const Tensor* t = Constant(g, zp);
  if (t == nullptr) return 0;
  return t->dtype() == DType::kUint8 ? t->data<uint8_t>()[0] : t->data<int8_t>()[0];
}

// The single use of `v` (not a graph output), or nullptr.
const ir::Use* SingleUse(const ir::Graph& g, ir::ValueId v) {
  if (!v.valid() || g.IsGraphOutput(v)) return nullptr;
  const ir::Value& value = g.value(v);
  return value.uses().size() == 1 ? &value.uses()[0] : nullptr;
}

// DQ's scale / zero point: constant float32 scale; zero point omitted or constant of dtype.
bool ConstantParams(const ir::Graph& g, const ir::Node& dq, DType dtype) {
  const Tensor* s = Constant(g, dq.input(1));
  if (s == nullptr || s->dtype() != DType::kFloat32 || s->num_elements() < 1) return false;
  if (!dq.input(2).valid()) return true;
  const Tensor* z = Constant(g, dq.input(2));
  return z != nullptr && z->dtype() == dtype && z->num_elements() == s->num_elements();
}

}  // namespace

std::optional<Dq> FusionContext::MatchActivationDq(ir::ValueId v) const {
  const ir::Graph& g = *g_;
  const ir::Node* dq = ProducerOp(g, v, "DequantizeLinear");
  if (dq == nullptr || dq->num_inputs() < 2) return std::nullopt;
  if (dq->HasAttribute("block_size")) return std::nullopt;
  Dq d{dq->input(0), dq->input(1), dq->input(2), DType::kUndefined};
  if (const Tensor* z = Constant(g, d.zp)) {
    d.dtype = z->dtype();
  } else if (const Tensor* qc = Constant(g, d.q)) {
    d.dtype = qc->dtype();
  } else if (g.value(d.q).dtype() != DType::kUndefined) {
    d.dtype = g.value(d.q).dtype();
  } else if (const ir::Node* qn = ProducerOp(g, d.q, "QuantizeLinear")) {
    const Tensor* qz = Constant(g, qn->input(2));
    if (qz != nullptr) d.dtype = qz->dtype();
  }
  if (!IsQuantType(d.dtype) || !ConstantParams(g, *dq, d.dtype)) return std::nullopt;
  if (g.value(d.scale).initializer().num_elements() != 1) return std::nullopt;
  return d;
}

std::optional<Dq> FusionContext::MatchWeightDq(ir::ValueId v, int axis) const {
  const ir::Graph& g = *g_;
  const ir::Node* dq = ProducerOp(g, v, "DequantizeLinear");
  if (dq == nullptr || dq->num_inputs() < 2 || dq->HasAttribute("block_size")) {
    return std::nullopt;
  }
  const Tensor* q = Constant(g, dq->input(0));
  if (q == nullptr || !IsQuantType(q->dtype()) || q->rank() <= axis) return std::nullopt;
  if (!ConstantParams(g, *dq, q->dtype())) return std::nullopt;
  const Tensor& s = g.value(dq->input(1)).initializer();
  if (s.num_elements() != 1) {
    const absl::StatusOr<int64_t> a = dq->GetInt("axis", 1);
    if (!a.ok()) return std::nullopt;
    const int64_t norm = *a < 0 ? *a + q->rank() : *a;
    if (norm != axis || s.rank() != 1 || s.shape().dim(0) != q->shape().dim(axis))
      return std::nullopt;
  }
  return Dq{dq->input(0), dq->input(1), dq->input(2), q->dtype()};
}

std::optional<QOut> FusionContext::MatchOutputQ(ir::ValueId v, bool allow_relu) const {
  const ir::Graph& g = *g_;
  const ir::Use* use = SingleUse(g, v);
  if (use == nullptr) return std::nullopt;
  bool through_relu = false;
  if (allow_relu && IsOp(g.node(use->node), "Relu")) {
    use = SingleUse(g, g.node(use->node).output(0));
    if (use == nullptr) return std::nullopt;
    through_relu = true;
  }
  const ir::Node& q = g.node(use->node);
  if (!IsOp(q, "QuantizeLinear") || use->input_index != 0 || q.HasAttribute("block_size") ||
      !q.output(0).valid()) {
    return std::nullopt;
  }
  const Tensor* s = Constant(g, q.input(1));
  const Tensor* z = Constant(g, q.input(2));
  if (s == nullptr || z == nullptr || s->dtype() != DType::kFloat32 || s->num_elements() != 1 ||
      z->num_elements() != 1 || !IsQuantType(z->dtype())) {
    return std::nullopt;
  }
  const int32_t zp = ZeroPointValue(g, q.input(2));
  if (through_relu && zp != (z->dtype() == DType::kUint8 ? 0 : -128)) return std::nullopt;
  return QOut{q.id(), q.output(0), q.input(1), q.input(2), z->dtype()};
}

ir::ValueId FusionContext::MatchBias(ir::ValueId v, const Dq& x, const Dq& w,
                                     int64_t channels) const {
  const ir::Graph& g = *g_;
  const ir::Node* dq = ProducerOp(g, v, "DequantizeLinear");
  if (dq == nullptr || dq->num_inputs() < 2) return ir::kNoValue;
  const Tensor* b = Constant(g, dq->input(0));
  const Tensor* s = Constant(g, dq->input(1));
  if (b == nullptr || s == nullptr || b->dtype() != DType::kInt32 || b->rank() != 1 ||
      b->num_elements() != channels || s->dtype() != DType::kFloat32 ||
      (s->num_elements() != 1 && s->num_elements() != channels)) {
    return ir::kNoValue;
  }
  if (dq->input(2).valid()) {
    const Tensor* z = Constant(g, dq->input(2));
    if (z == nullptr || z->dtype() != DType::kInt32) return ir::kNoValue;
    for (int32_t zv : z->span<int32_t>()) {
      if (zv != 0) return ir::kNoValue;
    }
  }
  const float xs = g.value(x.scale).initializer().data<float>()[0];
  const Tensor& ws = g.value(w.scale).initializer();
  for (int64_t c = 0; c < channels; ++c) {
    const float want = xs * ScaleAt(ws, c);
    const float got = ScaleAt(*s, c);
    if (std::memcmp(&want, &got, sizeof(float)) != 0) return ir::kNoValue;
  }
  return dq->input(0);
}

bool FusionContext::SameQParams(const Dq& d, const QOut& q) const {
  const ir::Graph& g = *g_;
  const float a = g.value(d.scale).initializer().data<float>()[0];
  const float b = g.value(q.scale).initializer().data<float>()[0];
  return d.dtype == q.dtype && std::memcmp(&a, &b, sizeof(float)) == 0 &&
         ZeroPointValue(g, d.zp) == ZeroPointValue(g, q.zp);
}

Dq FusionContext::TransposedWeights(const Dq& w) {
  const Tensor src = g_->value(w.q).initializer();  // shallow copy: survives AddInitializer
  const int64_t rows = src.shape().dim(0), cols = src.shape().dim(1);
  Tensor t = Tensor::Zeros(src.dtype(), tensor::Shape({cols, rows}));
  const uint8_t* in = static_cast<const uint8_t*>(src.raw_data());
  uint8_t* out = static_cast<uint8_t*>(t.mutable_raw_data());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
  }
  Dq d = w;
  d.q = g_->AddInitializer(g_->UniqueValueName(StrCat(g_->value(w.q).name(), "_T")), std::move(t));
  return d;
}

ir::ValueId FusionContext::ZeroPoint(const Dq& d) {
  if (d.zp.valid()) return d.zp;
  const tensor::Shape shape = g_->value(d.scale).initializer().shape();
  Tensor z = Tensor::Zeros(d.dtype, shape);
  return g_->AddInitializer(g_->UniqueValueName(StrCat(g_->value(d.scale).name(), "_zero_point")),
                            std::move(z));
}

std::string FusionContext::NewNodeName(const ir::Node& base, std::string_view op_type) const {
  return base.name().empty() ? std::string() : StrCat(base.name(), "/", op_type);
}

void FusionContext::DetachOutput(const QOut& q) {
  const std::string name = g_->UniqueValueName(StrCat(g_->value(q.out).name(), "/unfused"));
  const ir::ValueId dummy = g_->AddValue(name);
  g_->SetNodeOutput(q.node, 0, dummy);
}

void FusionContext::Replace(const QOut& q, ir::NodeSpec spec) {
  DetachOutput(q);
  spec.outputs = {q.out};
  g_->AddNode(std::move(spec));
}

void FusionContext::MoveOntoQuantized(ir::NodeId op, const std::vector<Dq>& inputs, const QOut& q) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    g_->SetNodeInput(op, static_cast<int>(i), inputs[i].q);
  }
  DetachOutput(q);
  g_->SetNodeOutput(op, 0, q.out);
}

}  // namespace mp::exec::internal
