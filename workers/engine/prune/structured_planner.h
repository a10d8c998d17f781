// Structured pruning planner (internal to the prune module): the state shared by
// structured_plan.cc (walking the graph) and structured_decide.cc (ranking channels).
#ifndef MP_WORKERS_ENGINE_PRUNE_STRUCTURED_PLANNER_H_
#define MP_WORKERS_ENGINE_PRUNE_STRUCTURED_PLANNER_H_

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/str_cat.h"
#include "workers/engine/prune/prune_internal.h"
#include "workers/engine/prune/structured.h"

namespace mp::prune::internal {

using tensor::DType;
using tensor::Tensor;

inline bool IsPassThrough(const std::string& op) {
  static const char* const kOps[] = {
      "Relu",    "Clip",        "LeakyRelu", "HardSwish",         "HardSigmoid",
      "Sigmoid", "Tanh",        "Dropout",   "Identity",          "MaxPool",
      "Elu",     "AveragePool", "Softplus",  "GlobalAveragePool", "GlobalMaxPool"};
  return std::any_of(std::begin(kOps), std::end(kOps), [&](const char* o) { return op == o; });
}
inline bool IsPool(const std::string& op) { return op.find("Pool") != std::string::npos; }
inline bool IsBinary(const std::string& op) {
  return op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min";
}

inline int64_t Channels(const ChannelLayout& l) {
  int64_t c = 0;
  for (const auto& s : l.segments) c += s.count;
  return c;
}

struct Group {
  int parent = 0;
  int64_t channels = 0;
  std::vector<int> producers;  // indices into Planner::producers_
  std::string frozen;          // non-empty: keeps every channel
};

struct Producer {
  std::string name;
  ir::NodeId node;
  int group = -1;
};

class Planner {
 public:
  Planner(const ir::Model& model, const StructuredOptions& options)
      : model_(model), g_(model.graph), options_(options) {}

  absl::StatusOr<StructuredPlan> Run();

 private:
  absl::Status InferShapes();
  const Tensor* Const(ir::ValueId v) const {  // a float32 constant, or nullptr
    const Tensor* t = ResolveConstant(g_, v);
    return t != nullptr && t->dtype() == DType::kFloat32 ? t : nullptr;
  }
  const tensor::Shape* ShapeOf(ir::ValueId v) const {
    auto it = shapes_.find(v.valid() ? g_.value(v).name() : "");
    return it == shapes_.end() ? nullptr : &it->second;
  }
  int Find(int x) {
    while (groups_[size_t(x)].parent != x)
      x = groups_[size_t(x)].parent = groups_[size_t(groups_[size_t(x)].parent)].parent;
    return x;
  }
  int NewGroup(int64_t channels, std::string frozen) {
    const int id = static_cast<int>(groups_.size());
    groups_.push_back({id, channels, {}, std::move(frozen)});
    return id;
  }
  void Union(int a, int b) {
    a = Find(a), b = Find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);
    Group& ga = groups_[size_t(a)];
    Group& gb = groups_[size_t(b)];
    gb.parent = a;
    ga.producers.insert(ga.producers.end(), gb.producers.begin(), gb.producers.end());
    if (ga.frozen.empty()) ga.frozen = gb.frozen;
  }
  void Freeze(const ChannelLayout& l, const std::string& why) {
    for (const auto& s : l.segments) {
      Group& gr = groups_[size_t(Find(s.group))];
      if (gr.frozen.empty()) gr.frozen = why;
    }
  }
  void FreezeValue(ir::ValueId v, const std::string& why) {
    if (v.valid() && layout_[size_t(v.index)]) Freeze(*layout_[size_t(v.index)], why);
  }
  const ChannelLayout* LayoutOf(ir::ValueId v) const {
    return v.valid() && layout_[size_t(v.index)] ? &*layout_[size_t(v.index)] : nullptr;
  }
  void SetLayout(ir::ValueId v, ChannelLayout l) {
    if (v.valid()) layout_[size_t(v.index)] = std::move(l);
  }
  void AddEdit(ChannelEdit::Kind kind, const ir::Node& node, const ChannelLayout& l) {
    edits_.push_back({kind, node.id(), l});
  }
  // Freezes every input layout of `node` not in `handled` (input slots).
  void FreezeOthers(const ir::Node& node, std::initializer_list<int> handled) {
    for (int i = 0; i < node.num_inputs(); ++i) {
      if (std::find(handled.begin(), handled.end(), i) != handled.end()) continue;
      FreezeValue(node.input(i), StrCat("channels reach input ", i, " of ", node.Describe(),
                                        ", which the surgery cannot follow"));
    }
  }

  void VisitConv(const ir::Node& node);
  void VisitGemm(const ir::Node& node);
  void VisitMatMul(const ir::Node& node);
  void VisitBatchNorm(const ir::Node& node);
  void VisitFlatten(const ir::Node& node);
  void VisitReduceMean(const ir::Node& node);
  void VisitBinary(const ir::Node& node);
  void VisitConcat(const ir::Node& node);
  void AddProducer(const ir::Node& node, int64_t channels, std::string frozen);
  std::vector<int64_t> Decide(const Group& group) const;
  void ProducerNorms(const Producer& p, int64_t channels, std::vector<double>* scores) const;
  StructuredPlan Finish();

  const ir::Model& model_;
  const ir::Graph& g_;
  const StructuredOptions& options_;
  std::vector<PrunableLayer> layers_;
  absl::flat_hash_map<std::string, tensor::Shape> shapes_;
  std::vector<std::optional<ChannelLayout>> layout_;
  std::vector<Group> groups_;
  std::vector<Producer> producers_;
  std::vector<ChannelEdit> edits_;
};

}  // namespace mp::prune::internal

#endif  // MP_WORKERS_ENGINE_PRUNE_STRUCTURED_PLANNER_H_
