// Structured pruning, planning: follow every producer's output channels through the graph,
// couple channels joined by elementwise ops (union-find over groups), freeze what the
// surgery cannot follow, then rank channels per group by filter norm (rules in prune.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/prune/structured_planner.h"

namespace mp::prune {
namespace internal {

using tensor::DType;
using tensor::Tensor;

absl::Status Planner::InferShapes() {
  ASSIGN_OR_RETURN(shapes_, InferValueShapes(model_, options_.input_shapes));
  return absl::OkStatus();
}

void Planner::AddProducer(const ir::Node& node, int64_t channels, std::string frozen) {
  const std::string name = node.name().empty() ? g_.value(node.input(1)).name() : node.name();
  if (frozen.empty() && Contains(options_.exclude, name)) frozen = "excluded";
  const int grp = NewGroup(channels, std::move(frozen));
  groups_[size_t(grp)].producers.push_back(static_cast<int>(producers_.size()));
  producers_.push_back({name, node.id(), grp});
  ChannelLayout l{{{grp, channels}}, 1};
  AddEdit(ChannelEdit::Kind::kProducer, node, l);
  SetLayout(node.output(0), l);
}

void Planner::VisitConv(const ir::Node& node) {
  FreezeOthers(node, {0});
  const ChannelLayout* in = LayoutOf(node.input(0));
  const Tensor* w = Const(node.input(1));
  const ir::ValueId b = node.input(2);
  const bool bias_ok = !b.valid() || Const(b) != nullptr;
  auto group = node.GetInt("group", 1);
  if (w == nullptr || w->rank() < 3 || !group.ok() || !bias_ok) {
    if (in != nullptr)
      Freeze(*in, StrCat(node.Describe(), ": weight or bias is not a float32 constant"));
    return;
  }
  const int64_t o = w->shape().dim(0), per_group = w->shape().dim(1);
  if (*group == 1) {
    if (in != nullptr) {
      if (in->block != 1 || Channels(*in) != per_group) {
        Freeze(*in, StrCat(node.Describe(), ": input channels do not match the weight"));
      } else {
        AddEdit(ChannelEdit::Kind::kConsumer, node, *in);
      }
    }
    AddProducer(node, o, "");
    return;
  }
  if (in == nullptr) return;
  if (per_group == 1 && o == *group && Channels(*in) == o && in->block == 1) {
    AddEdit(ChannelEdit::Kind::kDepthwise, node, *in);
    SetLayout(node.output(0), *in);
    return;
  }
  Freeze(*in, StrCat(node.Describe(), ": grouped Conv (group ", *group, ") is not depthwise"));
}

void Planner::VisitGemm(const ir::Node& node) {
  FreezeOthers(node, {0});
  const ChannelLayout* in = LayoutOf(node.input(0));
  const Tensor* w = Const(node.input(1));
  const int64_t trans_a = node.GetInt("transA", 0).value_or(1);
  const int64_t trans_b = node.GetInt("transB", 0).value_or(-1);
  if (w == nullptr || w->rank() != 2 || trans_b < 0) {
    if (in != nullptr)
      Freeze(*in, StrCat(node.Describe(), ": weight is not a 2-D float32 constant"));
    return;
  }
  if (in != nullptr) {
    const int64_t k = trans_b != 0 ? w->shape().dim(1) : w->shape().dim(0);
    if (trans_a != 0 || Channels(*in) * in->block != k) {
      Freeze(*in, StrCat(node.Describe(), ": transA or K does not match the channels"));
    } else {
      AddEdit(ChannelEdit::Kind::kConsumer, node, *in);
    }
  }
  const int64_t n = trans_b != 0 ? w->shape().dim(0) : w->shape().dim(1);
  std::string frozen;
  const ir::ValueId c = node.input(2);
  if (c.valid()) {
    const Tensor* ct = Const(c);
    if (ct == nullptr) {
      frozen = StrCat(node.Describe(), ": bias is not a float32 constant");
    } else if (ct->rank() > 2 || (ct->rank() == 2 && ct->shape().dim(0) != 1) ||
               (ct->rank() >= 1 && ct->shape().dim(ct->rank() - 1) != n &&
                ct->shape().dim(ct->rank() - 1) != 1)) {
      frozen = StrCat(node.Describe(), ": bias ", ct->shape().ToString(), " is not per column");
    }
  }
  AddProducer(node, n, std::move(frozen));
}

void Planner::VisitMatMul(const ir::Node& node) {
  FreezeOthers(node, {0});
  const ChannelLayout* in = LayoutOf(node.input(0));
  if (in == nullptr) return;
  const Tensor* w = Const(node.input(1));
  const tensor::Shape* xs = ShapeOf(node.input(0));
  if (w == nullptr || w->rank() != 2 || xs == nullptr || xs->rank() != 2 ||
      Channels(*in) * in->block != w->shape().dim(0)) {
    Freeze(*in, StrCat(node.Describe(), ": not a 2-D input times a constant 2-D weight"));
    return;
  }
  AddEdit(ChannelEdit::Kind::kConsumer, node, *in);
}

void Planner::VisitBatchNorm(const ir::Node& node) {
  FreezeOthers(node, {0});
  const ChannelLayout* in = LayoutOf(node.input(0));
  if (in == nullptr) return;
  bool ok = in->block == 1 && node.num_inputs() == 5;
  for (int i = 1; ok && i < 5; ++i) {
    const Tensor* t = Const(node.input(i));
    ok = t != nullptr && t->rank() == 1 && t->shape().dim(0) == Channels(*in);
  }
  for (int i = 1; ok && i < node.num_outputs(); ++i) {
    ok = !node.output(i).valid() || g_.value(node.output(i)).uses().empty();
  }
  if (!ok) {
    Freeze(*in, StrCat(node.Describe(), ": parameters are not per-channel constants"));
    return;
  }
  AddEdit(ChannelEdit::Kind::kBatchNorm, node, *in);
  SetLayout(node.output(0), *in);
}

void Planner::VisitFlatten(const ir::Node& node) {
  const ChannelLayout* in = LayoutOf(node.input(0));
  if (in == nullptr) return;
  const tensor::Shape* xs = ShapeOf(node.input(0));
  const int64_t axis = node.GetInt("axis", 1).value_or(0);
  if (xs == nullptr || xs->rank() < 2 || axis != 1 || in->block != 1) {
    Freeze(*in, StrCat(node.Describe(), ": only Flatten(axis=1) of a known shape is followed"));
    return;
  }
  ChannelLayout out = *in;
  for (int d = 2; d < xs->rank(); ++d) out.block *= xs->dim(d);
  SetLayout(node.output(0), out);
}

void Planner::VisitReduceMean(const ir::Node& node) {
  FreezeOthers(node, {0});
  const ChannelLayout* in = LayoutOf(node.input(0));
  if (in == nullptr) return;
  const tensor::Shape* xs = ShapeOf(node.input(0));
  std::vector<int64_t> axes = node.GetInts("axes", {}).value_or(std::vector<int64_t>{});
  if (node.input(1).valid() && g_.value(node.input(1)).is_constant() &&
      g_.value(node.input(1)).initializer().dtype() == DType::kInt64) {
    auto s = g_.value(node.input(1)).initializer().span<int64_t>();
    axes.assign(s.begin(), s.end());
  }
  bool ok = xs != nullptr && in->block == 1 && !axes.empty() &&
            (!node.input(1).valid() || g_.value(node.input(1)).is_constant());
  for (int64_t a : axes) {
    if (xs != nullptr && a < 0) a += xs->rank();
    ok = ok && a >= 2;
  }
  if (!ok) {
    Freeze(*in, StrCat(node.Describe(), ": only reductions over spatial axes are followed"));
    return;
  }
  SetLayout(node.output(0), *in);
}

void Planner::VisitBinary(const ir::Node& node) {
  const ChannelLayout* a = LayoutOf(node.input(0));
  const ChannelLayout* b = LayoutOf(node.input(1));
  const tensor::Shape* as = ShapeOf(node.input(0));
  const tensor::Shape* bs = ShapeOf(node.input(1));
  const tensor::Shape* ys = ShapeOf(node.output(0));
  const std::string why = StrCat(node.Describe(), ": operands are not channel-aligned");
  if (a != nullptr && b != nullptr) {
    bool ok = as != nullptr && bs != nullptr && *as == *bs && a->block == b->block &&
              a->segments.size() == b->segments.size();
    for (size_t i = 0; ok && i < a->segments.size(); ++i) {
      ok = a->segments[i].count == b->segments[i].count;
    }
    if (!ok) {
      Freeze(*a, why);
      Freeze(*b, why);
      return;
    }
    for (size_t i = 0; i < a->segments.size(); ++i) {
      Union(a->segments[i].group, b->segments[i].group);
    }
    SetLayout(node.output(0), *a);
    return;
  }
  const int li = a != nullptr ? 0 : 1;
  const ChannelLayout* l = a != nullptr ? a : b;
  if (l == nullptr) return;
  const tensor::Shape* ls = li == 0 ? as : bs;
  const tensor::Shape* os = li == 0 ? bs : as;
  // The other operand must broadcast along the channel axis (1) of the carried value.
  bool ok = ls != nullptr && os != nullptr && ys != nullptr && *ls == *ys;
  if (ok) {
    const int idx = 1 - (ls->rank() - os->rank());
    ok = idx < 0 || os->dim(idx) == 1;
  }
  if (!ok) {
    Freeze(*l, why);
    return;
  }
  SetLayout(node.output(0), *l);
}

void Planner::VisitConcat(const ir::Node& node) {
  const tensor::Shape* ys = ShapeOf(node.output(0));
  int64_t axis = node.GetInt("axis", 0).value_or(-100);
  if (ys != nullptr && axis < 0) axis += ys->rank();
  bool any = false, ok = ys != nullptr && axis == 1;
  ChannelLayout out;
  for (int i = 0; i < node.num_inputs(); ++i) {
    const ChannelLayout* l = LayoutOf(node.input(i));
    any = any || l != nullptr;
    if (!ok) continue;
    if (l != nullptr) {
      ok = l->block == 1;
      out.segments.insert(out.segments.end(), l->segments.begin(), l->segments.end());
    } else {
      const tensor::Shape* s = ShapeOf(node.input(i));
      ok = s != nullptr;
      if (ok && s->dim(1) > 0) {
        out.segments.push_back(
            {NewGroup(s->dim(1), "coupled with channels that are not pruned"), s->dim(1)});
      }
    }
  }
  if (!any) return;
  if (!ok) {
    FreezeOthers(node, {});
    return;
  }
  SetLayout(node.output(0), out);
}

absl::StatusOr<StructuredPlan> Planner::Run() {
  RETURN_IF_ERROR(CheckSparsity(options_.ratio, "structured pruning ratio"));
  if (options_.round_to < 1) {
    return absl::InvalidArgumentError(
        StrCat("structured pruning: round_to ", options_.round_to, " must be >= 1"));
  }
  ASSIGN_OR_RETURN(layers_, FindPrunableLayers(g_));
  RETURN_IF_ERROR(CheckLayerTargets(layers_, options_.per_layer));
  RETURN_IF_ERROR(CheckLayerNames(layers_, options_.exclude));
  RETURN_IF_ERROR(Annotate(InferShapes(), "structured pruning: shape inference"));
  layout_.assign(size_t(g_.num_values()), std::nullopt);
  ASSIGN_OR_RETURN(std::vector<ir::NodeId> order, ir::TopologicalOrder(g_));
  for (ir::NodeId id : order) {
    const ir::Node& node = g_.node(id);
    const std::string& op = node.op_type();
    if (!node.domain().empty()) {
      FreezeOthers(node, {});
    } else if (op == "Conv") {
      VisitConv(node);
    } else if (op == "Gemm") {
      VisitGemm(node);
    } else if (op == "MatMul") {
      VisitMatMul(node);
    } else if (op == "BatchNormalization") {
      VisitBatchNorm(node);
    } else if (op == "Flatten") {
      VisitFlatten(node);
    } else if (op == "ReduceMean") {
      VisitReduceMean(node);
    } else if (IsBinary(op)) {
      VisitBinary(node);
    } else if (op == "Concat") {
      VisitConcat(node);
    } else if (IsPassThrough(op)) {
      FreezeOthers(node, {0});
      const ChannelLayout* in = LayoutOf(node.input(0));
      if (in == nullptr) continue;
      bool ok = !(IsPool(op) && in->block != 1);
      for (int i = 1; i < node.num_outputs(); ++i) {
        ok = ok && (!node.output(i).valid() || g_.value(node.output(i)).uses().empty());
      }
      if (ok) {
        SetLayout(node.output(0), *in);
      } else {
        Freeze(*in, StrCat(node.Describe(), ": extra outputs or flattened input"));
      }
    } else {
      FreezeOthers(node, {});
    }
  }
  for (ir::ValueId out : g_.outputs()) {
    FreezeValue(out, StrCat("graph output '", g_.value(out).name(), "' exposes the channels"));
  }
  return Finish();
}

}  // namespace internal

absl::StatusOr<StructuredPlan> PlanStructured(const ir::Model& model,
                                              const StructuredOptions& options) {
  return internal::Planner(model, options).Run();
}

}  // namespace mp::prune
