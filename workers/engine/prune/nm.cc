// N:M semi-structured pruning along the reduction dimension (rules in prune.h).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/prune/methods.h"
#include "workers/engine/prune/prune_internal.h"

namespace mp::prune {
namespace {

using tensor::DType;
using tensor::Tensor;

// A weight viewed as [outer, K, inner]; groups run along K.
struct KView {
  int64_t outer = 1, k = 1, inner = 1;
};

KView ViewOf(const Tensor& w, std::string_view op_type, bool trans_b) {
  KView v;
  if (op_type == "Conv") {
    v.outer = w.shape().dim(0);
    v.k = w.shape().dim(1);
    for (int d = 2; d < w.rank(); ++d) v.inner *= w.shape().dim(d);
  } else if (op_type == "Gemm" && trans_b) {
    v.outer = w.shape().dim(0);
    v.k = w.shape().dim(1);
  } else {
    v.k = w.shape().dim(0);
    v.inner = w.shape().dim(1);
  }
  return v;
}

// Visits each group: fn(first element index, stride, group length).
template <typename Fn>
void ForEachGroup(const KView& v, int m, Fn fn) {
  for (int64_t o = 0; o < v.outer; ++o) {
    for (int64_t p = 0; p < v.inner; ++p) {
      for (int64_t k0 = 0; k0 < v.k; k0 += m) {
        fn((o * v.k + k0) * v.inner + p, v.inner, std::min<int64_t>(m, v.k - k0));
      }
    }
  }
}

}  // namespace

bool SatisfiesNm(const Tensor& weight, std::string_view op_type, bool trans_b, int n, int m) {
  const float* w = weight.data<float>();
  bool ok = true;
  ForEachGroup(ViewOf(weight, op_type, trans_b), m,
               [&](int64_t first, int64_t stride, int64_t len) {
                 int64_t nonzero = 0;
                 for (int64_t j = 0; j < len; ++j) nonzero += w[first + j * stride] != 0.0f ? 1 : 0;
                 if (nonzero > n) ok = false;
               });
  return ok;
}

absl::StatusOr<MaskResult> NmPrune(const NmOptions& options, ir::Model* model) {
  if (options.m < 1 || options.n < 0 || options.n >= options.m) {
    return absl::InvalidArgumentError(StrCat("N:M pruning: ", options.n, ":", options.m,
                                             " is invalid (need 0 <= N < M and M >= 1)"));
  }
  ASSIGN_OR_RETURN(std::vector<PrunableLayer> layers, FindPrunableLayers(model->graph));
  RETURN_IF_ERROR(CheckLayerNames(layers, options.exclude));
  RETURN_IF_ERROR(CheckLayerNames(layers, options.only));
  const int n = options.n, m = options.m;
  std::vector<Tensor> masks(layers.size());
  std::vector<std::string> skipped(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const PrunableLayer& l = layers[i];
    if (Contains(options.exclude, l.name) ||
        (!options.only.empty() && !Contains(options.only, l.name))) {
      skipped[i] = "excluded";
      continue;
    }
    const ir::Node& node = model->graph.node(l.node);
    ASSIGN_OR_RETURN(int64_t trans_b, node.GetInt("transB", 0));
    const Tensor& w = model->graph.value(l.weight).initializer();
    const KView v = ViewOf(w, l.op_type, trans_b != 0);
    if (v.k % m != 0) {
      const std::string why = StrCat("K = ", v.k, " is not a multiple of M = ", m);
      if (options.tail == NmTail::kError) {
        return absl::InvalidArgumentError(StrCat("N:M pruning: layer '", l.name, "': ", why));
      }
      if (options.tail == NmTail::kSkipLayer) {
        skipped[i] = why;
        continue;
      }
    }
    Tensor mask = Tensor::Zeros(DType::kUint8, w.shape());
    const float* p = w.data<float>();
    uint8_t* mk = mask.mutable_data<uint8_t>();
    std::vector<int64_t> idx;
    ForEachGroup(v, m, [&](int64_t first, int64_t stride, int64_t len) {
      idx.clear();
      for (int64_t j = 0; j < len; ++j) idx.push_back(first + j * stride);
      // Largest |w| first; ties to the lower index.
      std::stable_sort(idx.begin(), idx.end(),
                       [p](int64_t a, int64_t b) { return std::fabs(p[a]) > std::fabs(p[b]); });
      for (int64_t j = 0; j < len && j < n; ++j) mk[idx[size_t(j)]] = 1;
    });
    masks[i] = std::move(mask);
  }
  return FinishMasks(layers, std::move(masks), std::move(skipped), model);
}

}  // namespace mp::prune
