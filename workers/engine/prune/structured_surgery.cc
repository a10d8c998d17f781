// Structured pruning, surgery: applies a StructuredPlan by slicing (kRemove) or zeroing
// (kZero) the tensors of every edited node. The plan was validated when it was made, so
// the shapes here are invariants (MP_CHECK).
#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/prune/prune_internal.h"
#include "workers/engine/prune/structured.h"

namespace mp::prune {
namespace {

using tensor::DType;
using tensor::Tensor;

// Kept indices of a channel space, expanded to features (channel * block + j).
std::vector<int64_t> KeptFeatures(const StructuredPlan& plan, const ChannelLayout& l) {
  std::vector<int64_t> out;
  int64_t offset = 0;
  for (const auto& seg : l.segments) {
    const ChannelGroup& gr = plan.groups[size_t(seg.group)];
    MP_CHECK_EQ(gr.channels, seg.count);
    for (int64_t c : gr.kept) {
      for (int64_t j = 0; j < l.block; ++j) out.push_back((offset + c) * l.block + j);
    }
    offset += seg.count;
  }
  return out;
}

int64_t TotalFeatures(const ChannelLayout& l) {
  int64_t c = 0;
  for (const auto& seg : l.segments) c += seg.count;
  return c * l.block;
}

// `t` restricted to `keep` (ascending) along `axis`.
Tensor Slice(const Tensor& t, int axis, const std::vector<int64_t>& keep) {
  std::vector<int64_t> dims = t.shape().dims();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= dims[size_t(d)];
  for (int d = axis + 1; d < t.rank(); ++d) inner *= dims[size_t(d)];
  const int64_t n = dims[size_t(axis)];
  dims[size_t(axis)] = static_cast<int64_t>(keep.size());
  Tensor out = Tensor::Zeros(t.dtype(), tensor::Shape(dims));
  const size_t es = tensor::DTypeSize(t.dtype());
  const auto* src = static_cast<const uint8_t*>(t.raw_data());
  auto* dst = static_cast<uint8_t*>(out.mutable_raw_data());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < keep.size(); ++k) {
      std::memcpy(dst + ((o * int64_t(keep.size()) + int64_t(k)) * inner) * int64_t(es),
                  src + ((o * n + keep[k]) * inner) * int64_t(es), size_t(inner) * es);
    }
  }
  return out;
}

// A copy of float32 `t` with the entries not in `keep` along `axis` set to 0.
Tensor Zero(const Tensor& t, int axis, const std::vector<int64_t>& keep) {
  Tensor out = t.Clone();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= t.shape().dim(d);
  for (int d = axis + 1; d < t.rank(); ++d) inner *= t.shape().dim(d);
  const int64_t n = t.shape().dim(axis);
  std::vector<bool> kept(size_t(n), false);
  for (int64_t k : keep) kept[size_t(k)] = true;
  float* p = out.mutable_data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < n; ++c) {
      if (!kept[size_t(c)]) std::fill_n(p + (o * n + c) * inner, inner, 0.0f);
    }
  }
  return out;
}

class Surgeon {
 public:
  Surgeon(const StructuredPlan& plan, ApplyMode mode, ir::Graph* g)
      : plan_(plan), mode_(mode), g_(*g) {}

  // Slices (or zeroes) input `slot` of `node` along `axis`; axes count from the end when
  // negative. Zero mode leaves consumers alone (`consumer`).
  void Edit(const ir::Node& node, int slot, int axis, const std::vector<int64_t>& keep,
            bool consumer) {
    const ir::ValueId v = node.input(slot);
    if (!v.valid()) return;
    const Tensor* tp = ResolveConstant(g_, v);
    MP_CHECK(tp != nullptr) << node.Describe() << " input " << slot;
    const Tensor t = *tp;
    if (t.rank() == 0) return;
    if (axis < 0) axis += t.rank();
    if (t.shape().dim(axis) == 1 && keep.size() != 1) return;  // broadcast (Gemm bias)
    if (mode_ == ApplyMode::kZero && consumer) return;
    Tensor edited = mode_ == ApplyMode::kZero ? Zero(t, axis, keep) : Slice(t, axis, keep);
    if (g_.value(v).is_constant() && g_.value(v).uses().size() == 1) {
      g_.SetConstant(v, std::move(edited));
      return;
    }
    // Shared with other nodes, or behind an Identity (exporters deduplicate equal
    // initializers): this node gets its own copy; Finish() drops what nothing uses.
    const ir::ValueId copy =
        g_.AddInitializer(g_.UniqueValueName(g_.value(v).name()), std::move(edited));
    g_.SetNodeInput(node.id(), slot, copy);
    orphans_.push_back(v);
  }

  // Removes the shared initializers (and Identity nodes) that no node uses any more.
  void Finish() {
    if (!orphans_.empty()) g_.RemoveDeadNodes();
  }

  void Apply(const ChannelEdit& e) {
    const std::vector<int64_t> keep = KeptFeatures(plan_, e.layout);
    if (static_cast<int64_t>(keep.size()) == TotalFeatures(e.layout)) return;
    const ir::Node& node = g_.node(e.node);
    const bool gemm = node.op_type() == "Gemm";
    const bool trans_b = gemm && node.GetInt("transB", 0).value_or(0) != 0;
    switch (e.kind) {
      case ChannelEdit::Kind::kProducer:
        Edit(node, 1, gemm && !trans_b ? 1 : 0, keep, false);
        Edit(node, 2, gemm ? -1 : 0, keep, false);
        break;
      case ChannelEdit::Kind::kBatchNorm:
        Edit(node, 1, 0, keep, false);
        Edit(node, 2, 0, keep, false);
        if (mode_ == ApplyMode::kRemove) {
          Edit(node, 3, 0, keep, false);
          Edit(node, 4, 0, keep, false);
        }
        break;
      case ChannelEdit::Kind::kDepthwise:
        Edit(node, 1, 0, keep, false);
        Edit(node, 2, 0, keep, false);
        if (mode_ == ApplyMode::kRemove) {
          g_.mutable_node(e.node).SetAttribute(
              ir::Attribute("group", static_cast<int64_t>(keep.size())));
        }
        break;
      case ChannelEdit::Kind::kConsumer:
        Edit(node, 1, node.op_type() == "Conv" ? 1 : (trans_b ? 1 : 0), keep, true);
        break;
    }
  }

 private:
  const StructuredPlan& plan_;
  ApplyMode mode_;
  ir::Graph& g_;
  std::vector<ir::ValueId> orphans_;
};

}  // namespace

absl::Status ApplyStructured(const StructuredPlan& plan, ApplyMode mode, ir::Model* model) {
  ir::Graph& g = model->graph;
  for (const ChannelEdit& e : plan.edits) {
    if (!g.contains(e.node)) {
      return absl::InvalidArgumentError("structured plan does not belong to this model");
    }
  }
  Surgeon surgeon(plan, mode, &g);
  for (const ChannelEdit& e : plan.edits) surgeon.Apply(e);
  if (mode == ApplyMode::kRemove) {
    for (const auto& [id, layout] : plan.values) {
      ir::Value& v = g.mutable_value(id);
      if (!v.shape().has_rank() || v.shape().rank() < 2) continue;
      std::vector<ir::Dim> dims = v.shape().dims();
      if (dims[1].known()) {
        dims[1].size = static_cast<int64_t>(KeptFeatures(plan, layout).size());
        v.set_shape(ir::PartialShape(std::move(dims)));
      }
    }
  }
  surgeon.Finish();  // renumbers values: after the shape updates
  return Annotate(ir::Verify(g), "structured pruning produced an invalid graph");
}

std::vector<StructuredLayerReport> SummarizePlan(const StructuredPlan& plan) {
  std::vector<StructuredLayerReport> out;
  for (const ChannelGroup& gr : plan.groups) {
    for (const std::string& p : gr.producers) {
      out.push_back({p, gr.channels, static_cast<int64_t>(gr.kept.size()), gr.skipped});
    }
  }
  return out;
}

}  // namespace mp::prune
