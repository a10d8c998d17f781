#include "workers/engine/ir/rewrites.h"

#include <algorithm>
#include <cmath>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"

namespace mp::ir {
namespace {

bool IsOp(const Node& n, std::string_view op) { return n.op_type() == op && n.domain().empty(); }

// The float32 constant at `v`, or nullptr.
const tensor::Tensor* FloatConstant(const Graph& g, ValueId v) {
  if (!v.valid() || !g.value(v).is_constant()) return nullptr;
  const tensor::Tensor& t = g.value(v).initializer();
  return t.dtype() == DType::kFloat32 ? &t : nullptr;
}

bool IsVectorOf(const tensor::Tensor* t, int64_t n) {
  return t != nullptr && t->rank() == 1 && t->shape().dim(0) == n;
}

// True if nothing reads `v` and it is not a graph output.
bool Unobserved(const Graph& g, ValueId v) {
  return !v.valid() || (g.value(v).uses().empty() && !g.IsGraphOutput(v));
}

// True if `v` is read only by its single use and is not part of the graph interface, so
// its constant may be replaced in place.
bool PrivateConstant(const Graph& g, ValueId v) {
  return g.value(v).uses().size() == 1 && !g.IsGraphOutput(v) && !g.IsGraphInput(v);
}

// Writes `data` as input `slot` of `node`: in place if the old constant is private, else as a
// new constant named after `base`.
void StoreConstant(Graph& g, NodeId node, int slot, std::string_view base, tensor::Tensor data) {
  const ValueId old = g.node(node).input(slot);
  if (old.valid() && PrivateConstant(g, old)) {
    g.SetConstant(old, std::move(data));
    return;
  }
  const ValueId fresh = g.AddInitializer(g.UniqueValueName(base), std::move(data));
  g.SetNodeInput(node, slot, fresh);
}

// Removes the candidates that are no longer produced, used, or part of the interface.
void RemoveOrphans(Graph& g, std::vector<ValueId> candidates) {
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::vector<ValueId> dead;
  for (ValueId v : candidates) {
    if (!v.valid()) continue;
    const Value& val = g.value(v);
    if (!val.producer().valid() && val.uses().empty() && !g.IsGraphInput(v) &&
        !g.IsGraphOutput(v)) {
      dead.push_back(v);
    }
  }
  g.RemoveValues(dead);
}

struct BnSite {
  NodeId bn;
  NodeId producer;
  bool gemm = false;
  float epsilon = 1e-5f;
};

// Checks that `bn` can be folded; nullopt if not (an error only for mistyped attributes).
absl::StatusOr<std::optional<BnSite>> MatchBatchNorm(const Graph& g, const Node& bn) {
  ASSIGN_OR_RETURN(int64_t training, bn.GetInt("training_mode", 0));
  ASSIGN_OR_RETURN(int64_t spatial, bn.GetInt("spatial", 1));
  ASSIGN_OR_RETURN(float epsilon, bn.GetFloat("epsilon", 1e-5f));
  if (training != 0 || spatial != 1 || bn.num_inputs() != 5 || !bn.output(0).valid()) {
    return std::nullopt;
  }
  for (int i = 1; i < bn.num_outputs(); ++i) {
    if (!Unobserved(g, bn.output(i))) return std::nullopt;
  }
  const ValueId x = bn.input(0);
  if (!x.valid() || g.value(x).uses().size() != 1 || g.IsGraphOutput(x)) return std::nullopt;
  const NodeId pid = g.value(x).producer();
  if (!pid.valid()) return std::nullopt;
  const Node& p = g.node(pid);
  const bool gemm = IsOp(p, "Gemm");
  if (!(gemm || IsOp(p, "Conv")) || p.output(0) != x) return std::nullopt;

  const tensor::Tensor* w = FloatConstant(g, p.input(1));
  int64_t m = 0;
  if (gemm) {
    ASSIGN_OR_RETURN(int64_t trans_b, p.GetInt("transB", 0));
    if (w == nullptr || w->rank() != 2) return std::nullopt;
    m = w->shape().dim(trans_b != 0 ? 0 : 1);
    if (p.input(2).valid()) {
      const tensor::Tensor* c = FloatConstant(g, p.input(2));
      if (c == nullptr || c->rank() > 2) return std::nullopt;
      if (c->num_elements() != 1 && (c->rank() == 0 || c->shape().dim(c->rank() - 1) != m)) {
        return std::nullopt;
      }
    }
  } else {
    if (w == nullptr || w->rank() < 3) return std::nullopt;
    m = w->shape().dim(0);
    if (p.input(2).valid() && !IsVectorOf(FloatConstant(g, p.input(2)), m)) return std::nullopt;
  }
  for (int i = 1; i <= 4; ++i) {
    if (!IsVectorOf(FloatConstant(g, bn.input(i)), m)) return std::nullopt;
  }
  return BnSite{bn.id(), pid, gemm, epsilon};
}

// Rewrites one matched site (see rewrites.h for the math). Returns the values that may have
// become orphans.
std::vector<ValueId> ApplyBatchNorm(Graph& g, const BnSite& site) {
  const Node& bn = g.node(site.bn);
  const Node& p = g.node(site.producer);
  auto param = [&](int i) { return g.value(bn.input(i)).initializer().span<float>(); };
  const std::span<const float> gamma = param(1), beta_bn = param(2), mean = param(3),
                               var = param(4);
  const size_t m = gamma.size();
  std::vector<double> s(m);
  for (size_t i = 0; i < m; ++i) {
    s[i] = static_cast<double>(gamma[i]) / std::sqrt(static_cast<double>(var[i]) + site.epsilon);
  }
  std::vector<ValueId> touched = {p.output(0), p.input(1), p.input(2)};
  for (ValueId v : bn.inputs()) touched.push_back(v);
  for (int i = 1; i < bn.num_outputs(); ++i) touched.push_back(bn.output(i));

  const tensor::Tensor& w = g.value(p.input(1)).initializer();
  tensor::Tensor w2 = w.Clone();
  float* wd = w2.mutable_data<float>();
  tensor::Tensor b2 = tensor::Tensor::Zeros(DType::kFloat32, tensor::Shape{int64_t(m)});
  const std::string w_name = g.value(p.input(1)).name();
  const NodeId pid = site.producer;
  if (!site.gemm) {
    const size_t per = static_cast<size_t>(w.num_elements()) / std::max<size_t>(m, 1);
    for (size_t o = 0; o < m; ++o) {
      for (size_t k = 0; k < per; ++k) {
        wd[o * per + k] = static_cast<float>(wd[o * per + k] * s[o]);
      }
    }
    const tensor::Tensor* b = FloatConstant(g, p.input(2));
    for (size_t o = 0; o < m; ++o) {
      const double bias = b != nullptr ? b->data<float>()[o] : 0.0;
      b2.mutable_data<float>()[o] = static_cast<float>((bias - mean[o]) * s[o] + beta_bn[o]);
    }
  } else {
    const bool trans_b = *p.GetInt("transB", 0) != 0;  // checked by MatchBatchNorm
    const float beta = *p.GetFloat("beta", 1.0f);
    const int64_t rows = w.shape().dim(0), cols = w.shape().dim(1);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const size_t n = static_cast<size_t>(trans_b ? r : c);
        wd[r * cols + c] = static_cast<float>(wd[r * cols + c] * s[n]);
      }
    }
    const tensor::Tensor* c = FloatConstant(g, p.input(2));
    if (c != nullptr && c->num_elements() != 1) b2 = c->Clone();  // [N] or [R, N]
    float* cd = b2.mutable_data<float>();
    for (int64_t i = 0; i < b2.num_elements(); ++i) {
      const size_t n = static_cast<size_t>(i) % m;
      const double cv = c == nullptr ? 0.0 : (c->num_elements() == 1 ? c->data<float>()[0] : cd[i]);
      cd[i] = static_cast<float>(s[n] * beta * cv + (beta_bn[n] - s[n] * mean[n]));
    }
    g.mutable_node(pid).SetAttribute(Attribute("beta", 1.0f));
  }
  StoreConstant(g, pid, 1, StrCat(w_name, "_bnfold"), std::move(w2));
  StoreConstant(g, pid, 2, StrCat(w_name, "_bnfold_bias"), std::move(b2));

  // The producer takes over BN's output value (keeping model output names).
  const ValueId y = g.node(site.bn).output(0);
  g.SetNodeOutput(site.bn, 0, kNoValue);
  g.SetNodeOutput(pid, 0, y);
  return touched;
}

}  // namespace

absl::StatusOr<int> FoldBatchNormalization(Model& model) {
  Graph& g = model.graph;
  std::vector<BnSite> sites;
  for (const Node& n : g.nodes()) {
    if (!IsOp(n, "BatchNormalization")) continue;
    ASSIGN_OR_RETURN(std::optional<BnSite> site, MatchBatchNorm(g, n));
    if (site.has_value()) sites.push_back(*site);
  }
  std::vector<ValueId> touched;
  std::vector<NodeId> removed;
  for (const BnSite& site : sites) {
    std::vector<ValueId> t = ApplyBatchNorm(g, site);
    touched.insert(touched.end(), t.begin(), t.end());
    removed.push_back(site.bn);
  }
  g.RemoveNodes(removed);  // value ids are unchanged by RemoveNodes
  RemoveOrphans(g, std::move(touched));
  return static_cast<int>(sites.size());
}

absl::StatusOr<int> RemoveIdentityLikeNodes(Model& model) {
  Graph& g = model.graph;
  std::vector<NodeId> removed;
  std::vector<ValueId> touched;
  for (int i = 0; i < g.num_nodes(); ++i) {
    const Node& n = g.node(NodeId{i});
    const bool dropout = IsOp(n, "Dropout");
    if (!IsOp(n, "Identity") && !dropout) continue;
    if (dropout) {
      if (!Unobserved(g, n.output(1))) continue;
      const ValueId mode = n.input(2);
      if (mode.valid()) {
        const tensor::Tensor& t = g.value(mode).initializer();
        if (!t.defined() || t.dtype() != DType::kBool || t.num_elements() != 1 ||
            t.data<bool>()[0]) {
          continue;
        }
      }
    }
    const ValueId in = n.input(0), out = n.output(0);
    if (!in.valid() || !out.valid()) continue;
    if (g.IsGraphOutput(out)) {
      // The input's producer must take over the output name.
      const Value& iv = g.value(in);
      if (!iv.producer().valid() || g.IsGraphOutput(in) || g.IsGraphInput(in)) continue;
      const NodeId p = iv.producer();
      const int slot = iv.producer_output_index();
      g.SetNodeOutput(n.id(), 0, kNoValue);
      g.SetNodeOutput(p, slot, out);
      g.ReplaceAllUsesWith(in, out);  // includes this node's own input: removed below
    } else {
      g.ReplaceAllUsesWith(out, in);
    }
    removed.push_back(n.id());
    for (ValueId v : n.inputs()) touched.push_back(v);
    for (ValueId v : n.outputs()) touched.push_back(v);
    touched.push_back(in);
    touched.push_back(out);
  }
  g.RemoveNodes(removed);
  RemoveOrphans(g, std::move(touched));
  return static_cast<int>(removed.size());
}

absl::StatusOr<int> SimplifyForInference(Model& model) {
  ASSIGN_OR_RETURN(int identities, RemoveIdentityLikeNodes(model));
  ASSIGN_OR_RETURN(int folded, FoldBatchNormalization(model));
  const int dead = model.graph.RemoveDeadNodes(/*keep_unused_initializers=*/false);
  RETURN_IF_ERROR(Verify(model.graph));
  return identities + folded + dead;
}

}  // namespace mp::ir
