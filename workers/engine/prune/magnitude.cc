// Unstructured magnitude pruning, per layer and global (rules in prune.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/prune/methods.h"
#include "workers/engine/prune/prune_internal.h"

namespace mp::prune {
namespace {

using tensor::DType;
using tensor::Tensor;

// Mask pruning the k entries of `w` with the smallest |w| (ties: lower index first).
Tensor SmallestK(const Tensor& w, int64_t k) {
  const int64_t n = w.num_elements();
  const float* p = w.data<float>();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  std::sort(order.begin(), order.end(), [p](int64_t a, int64_t b) {
    const float fa = std::fabs(p[a]), fb = std::fabs(p[b]);
    return fa != fb ? fa < fb : a < b;
  });
  Tensor mask = Tensor::Zeros(DType::kUint8, w.shape());
  uint8_t* m = mask.mutable_data<uint8_t>();
  std::fill(m, m + n, uint8_t{1});
  for (int64_t i = 0; i < k && i < n; ++i) m[order[size_t(i)]] = 0;
  return mask;
}

int64_t RoundCount(double s, int64_t n) { return std::llround(s * double(n)); }

}  // namespace

absl::StatusOr<MaskResult> MagnitudePrune(const MagnitudeOptions& options, ir::Model* model) {
  RETURN_IF_ERROR(CheckSparsity(options.sparsity, "magnitude pruning"));
  if (!(options.max_layer_sparsity > 0.0 && options.max_layer_sparsity <= 1.0)) {
    return absl::InvalidArgumentError(StrCat("magnitude pruning: max_layer_sparsity ",
                                             options.max_layer_sparsity, " is outside (0, 1]"));
  }
  ASSIGN_OR_RETURN(std::vector<PrunableLayer> layers, FindPrunableLayers(model->graph));
  RETURN_IF_ERROR(CheckLayerTargets(layers, options.per_layer));
  RETURN_IF_ERROR(CheckLayerNames(layers, options.exclude));

  const ir::Graph& g = model->graph;
  std::vector<Tensor> masks(layers.size());
  std::vector<std::string> skipped(layers.size());
  std::vector<size_t> pool;  // layer indices pruned against the global threshold
  for (size_t i = 0; i < layers.size(); ++i) {
    const PrunableLayer& l = layers[i];
    if (Contains(options.exclude, l.name)) {
      skipped[i] = "excluded";
      continue;
    }
    const Tensor& w = g.value(l.weight).initializer();
    const double* override_s = FindTarget(options.per_layer, l.name);
    if (override_s != nullptr || options.scope == Scope::kPerLayer) {
      const double s = override_s != nullptr ? *override_s : options.sparsity;
      masks[i] = SmallestK(w, RoundCount(s, w.num_elements()));
    } else {
      pool.push_back(i);
    }
  }
  if (!pool.empty()) {
    // (|w|, layer, index) ascending; prune from the front, skipping capped layers.
    std::vector<std::tuple<float, uint32_t, int64_t>> entries;
    int64_t total = 0;
    for (size_t i : pool) total += g.value(layers[i].weight).initializer().num_elements();
    entries.reserve(size_t(total));
    for (size_t i : pool) {
      const Tensor& w = g.value(layers[i].weight).initializer();
      const float* p = w.data<float>();
      for (int64_t j = 0; j < w.num_elements(); ++j) {
        entries.emplace_back(std::fabs(p[j]), uint32_t(i), j);
      }
      masks[i] = MaskOfNonZeros(w);
      uint8_t* m = masks[i].mutable_data<uint8_t>();
      std::fill(m, m + w.num_elements(), uint8_t{1});
    }
    std::sort(entries.begin(), entries.end());
    std::vector<int64_t> budget(layers.size(), 0);
    for (size_t i : pool) {
      budget[i] = static_cast<int64_t>(
          std::floor(options.max_layer_sparsity *
                     double(g.value(layers[i].weight).initializer().num_elements())));
    }
    int64_t remaining = RoundCount(options.sparsity, total);
    for (const auto& [mag, layer, index] : entries) {
      if (remaining == 0) break;
      if (budget[layer] == 0) continue;
      masks[layer].mutable_data<uint8_t>()[index] = 0;
      --budget[layer];
      --remaining;
    }
  }
  return FinishMasks(layers, std::move(masks), std::move(skipped), model);
}

}  // namespace mp::prune
