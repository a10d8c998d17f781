#include "workers/engine/train/rules.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"

namespace mp::train::internal {

void RuleTable::Register(const Rule& rule) {
  MP_CHECK(!rule.op_type.empty());
  MP_CHECK(rule.backward != nullptr) << rule.op_type;
  MP_CHECK(Find(rule.domain, rule.op_type) == nullptr) << "duplicate rule " << rule.op_type;
  MP_CHECK(rule.domain.empty() || rule.forward != nullptr) << rule.op_type;
  rules_.push_back(rule);
}

const Rule* RuleTable::Find(std::string_view domain, std::string_view op_type) const {
  if (domain == "ai.onnx") domain = "";
  for (const Rule& r : rules_) {
    if (r.op_type == op_type && r.domain == domain) return &r;
  }
  return nullptr;
}

const RuleTable& RuleTable::Default() {
  static const RuleTable* table = [] {
    auto* t = new RuleTable();
    RegisterElementwiseRules(t);
    RegisterShapeRules(t);
    RegisterLinearRules(t);
    RegisterConvRules(t);
    RegisterNormRules(t);
    RegisterMathRules(t);
    RegisterQatRules(t);
    return t;
  }();
  return *table;
}

Tensor ZerosLike(const Shape& shape) { return Tensor::Zeros(DType::kFloat32, shape); }

Tensor OutputGradOrZeros(const BackwardContext& ctx, int j) {
  const Tensor& g = ctx.output_grads[static_cast<size_t>(j)];
  if (g.defined()) return g;
  return ZerosLike(ctx.outputs[static_cast<size_t>(j)].shape());
}

Tensor BroadcastBinary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out,
                       kernels::ThreadPool* pool) {
  Tensor r = ZerosLike(out);
  const int rank = out.rank();
  int64_t sa[kernels::kMaxBroadcastRank] = {}, sb[kernels::kMaxBroadcastRank] = {};
  kernels::BroadcastStrides(a.rank(), a.shape().dims().data(), rank, out.dims().data(), sa);
  kernels::BroadcastStrides(b.rank(), b.shape().dims().data(), rank, out.dims().data(), sb);
  kernels::Binary(op, rank, out.dims().data(), a.data<float>(), sa, b.data<float>(), sb,
                  r.mutable_data<float>(), pool);
  return r;
}

void ParallelElements(kernels::ThreadPool* pool, int64_t n,
                      const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (pool == nullptr || n < 4096) {
    fn(0, n);
    return;
  }
  pool->ParallelFor(n, 2048, fn);
}

Tensor ReduceToShape(const Tensor& g, const Shape& to) {
  const Shape& from = g.shape();
  if (from == to) return g;
  Tensor out = ZerosLike(to);
  const float* src = g.data<float>();
  float* dst = out.mutable_data<float>();
  const int rank = from.rank();
  const int offset = rank - to.rank();
  MP_CHECK_GE(offset, 0);
  // Fast path: `to` (without leading 1s) equals the trailing dims of `from`.
  int lead = 0;
  while (lead < to.rank() && to.dim(lead) == 1) ++lead;
  bool suffix = true;
  for (int d = lead; d < to.rank(); ++d) {
    if (to.dim(d) != from.dim(offset + d)) suffix = false;
  }
  if (suffix) {
    const int64_t inner = to.num_elements();
    const int64_t rows = inner == 0 ? 0 : from.num_elements() / inner;
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = src + r * inner;
      for (int64_t j = 0; j < inner; ++j) dst[j] += row[j];
    }
    return out;
  }
  // General: each output element sums its preimage in row-major order.
  std::vector<int64_t> out_strides(static_cast<size_t>(rank), 0);  // per `from` dim
  {
    int64_t s = 1;
    for (int d = to.rank() - 1; d >= 0; --d) {
      if (to.dim(d) != 1) out_strides[static_cast<size_t>(offset + d)] = s;
      s *= to.dim(d);
    }
  }
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  const int64_t n = from.num_elements();
  int64_t o = 0;
  for (int64_t i = 0; i < n; ++i) {
    dst[o] += src[i];
    for (int d = rank - 1; d >= 0; --d) {
      const size_t ud = static_cast<size_t>(d);
      o += out_strides[ud];
      if (++idx[ud] < from.dim(d)) break;
      o -= out_strides[ud] * from.dim(d);
      idx[ud] = 0;
    }
  }
  return out;
}

}  // namespace mp::train::internal
