// Structured pruning, decisions: rank each coupled group's channels by the summed filter
// norms of its producers, choose the kept set, and emit the plan (rules in prune.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/prune/structured_planner.h"

namespace mp::prune::internal {

using tensor::Tensor;

void Planner::ProducerNorms(const Producer& p, int64_t channels,
                            std::vector<double>* scores) const {
  const ir::Node& node = g_.node(p.node);
  const Tensor& w = *Const(node.input(1));
  const bool cols = node.op_type() == "Gemm" && node.GetInt("transB", 0).value_or(0) == 0;
  const float* pw = w.data<float>();
  const int64_t per = w.num_elements() / channels;
  const Tensor* bias = Const(node.input(2));
  if (bias != nullptr && bias->num_elements() != channels) bias = nullptr;  // broadcast bias
  for (int64_t c = 0; c < channels; ++c) {
    double acc = 0;
    for (int64_t j = 0; j < per; ++j) {
      const double v = pw[cols ? j * channels + c : c * per + j];
      acc += options_.norm == Norm::kL1 ? std::fabs(v) : v * v;
    }
    if (bias != nullptr) {
      const double v = bias->data<float>()[c];
      acc += options_.norm == Norm::kL1 ? std::fabs(v) : v * v;
    }
    (*scores)[size_t(c)] += options_.norm == Norm::kL1 ? acc : std::sqrt(acc);
  }
}

std::vector<int64_t> Planner::Decide(const Group& group) const {
  std::vector<int64_t> all(size_t(group.channels));
  std::iota(all.begin(), all.end(), 0);
  if (!group.frozen.empty() || group.producers.empty()) return all;
  double ratio = -1;
  for (int p : group.producers) {
    const double* s = FindTarget(options_.per_layer, producers_[size_t(p)].name);
    if (s != nullptr) ratio = std::max(ratio, *s);
  }
  if (ratio < 0) ratio = options_.ratio;
  const int64_t c = group.channels;
  int64_t keep = c - std::llround(ratio * double(c));
  keep = std::min(c, (keep + options_.round_to - 1) / options_.round_to * options_.round_to);
  keep = std::max<int64_t>(keep, 1);
  std::vector<double> scores(size_t(c), 0.0);
  for (int p : group.producers) ProducerNorms(producers_[size_t(p)], c, &scores);
  std::stable_sort(all.begin(), all.end(),
                   [&](int64_t x, int64_t y) { return scores[size_t(x)] > scores[size_t(y)]; });
  all.resize(size_t(keep));
  std::sort(all.begin(), all.end());
  return all;
}

StructuredPlan Planner::Finish() {
  StructuredPlan plan;
  std::vector<int> index(groups_.size(), -1);
  for (size_t i = 0; i < groups_.size(); ++i) {
    const int root = Find(static_cast<int>(i));
    if (index[size_t(root)] < 0) {
      Group& gr = groups_[size_t(root)];
      index[size_t(root)] = static_cast<int>(plan.groups.size());
      std::sort(gr.producers.begin(), gr.producers.end());
      ChannelGroup cg{.channels = gr.channels, .kept = Decide(gr), .skipped = gr.frozen};
      for (int p : gr.producers) cg.producers.push_back(producers_[size_t(p)].name);
      plan.groups.push_back(std::move(cg));
    }
    index[i] = index[size_t(root)];
  }
  auto remap = [&](ChannelLayout l) {
    for (auto& seg : l.segments) seg.group = index[size_t(seg.group)];
    return l;
  };
  for (const ChannelEdit& e : edits_) plan.edits.push_back({e.kind, e.node, remap(e.layout)});
  for (int v = 0; v < g_.num_values(); ++v) {
    if (layout_[size_t(v)]) plan.values.emplace_back(ir::ValueId{v}, remap(*layout_[size_t(v)]));
  }
  return plan;
}

}  // namespace mp::prune::internal
