#include "workers/engine/ir/graph.h"

#include <algorithm>

#include "common/check.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"

namespace mp::ir {

const Value& Graph::value(ValueId id) const {
  MP_CHECK(contains(id)) << "value id " << id.index << " of " << num_values();
  return values_[static_cast<size_t>(id.index)];
}

const Node& Graph::node(NodeId id) const {
  MP_CHECK(contains(id)) << "node id " << id.index << " of " << num_nodes();
  return nodes_[static_cast<size_t>(id.index)];
}

Value& Graph::mutable_value(ValueId id) { return const_cast<Value&>(value(id)); }
Node& Graph::mutable_node(NodeId id) { return const_cast<Node&>(node(id)); }

bool Graph::IsGraphInput(ValueId id) const {
  return std::find(inputs_.begin(), inputs_.end(), id) != inputs_.end();
}

bool Graph::IsGraphOutput(ValueId id) const {
  return std::find(outputs_.begin(), outputs_.end(), id) != outputs_.end();
}

ValueId Graph::FindValue(std::string_view name) const {
  auto it = by_name_.find(absl::string_view(name.data(), name.size()));
  return it == by_name_.end() ? kNoValue : it->second;
}

std::string Graph::UniqueValueName(std::string_view base) const {
  std::string name(base);
  for (int i = 1; FindValue(name).valid(); ++i) name = StrCat(base, "_", i);
  return name;
}

ValueId Graph::AddValue(std::string name, DType dtype, PartialShape shape) {
  const ValueId id{static_cast<int32_t>(values_.size())};
  Value& v = values_.emplace_back();
  v.id_ = id;
  v.name_ = std::move(name);
  v.dtype_ = dtype;
  v.shape_ = std::move(shape);
  by_name_.try_emplace(v.name_, id);
  return id;
}

ValueId Graph::AddInitializer(std::string name, tensor::Tensor data) {
  MP_CHECK(data.defined()) << "initializer '" << name << "' has no data";
  const ValueId id = AddValue(std::move(name), data.dtype(), PartialShape::Of(data.shape()));
  values_.back().initializer_ = std::move(data);
  return id;
}

NodeId Graph::AddNode(NodeSpec spec) {
  const NodeId id{static_cast<int32_t>(nodes_.size())};
  for (ValueId v : spec.inputs) MP_CHECK(!v.valid() || contains(v)) << "input id " << v.index;
  for (ValueId v : spec.outputs) MP_CHECK(!v.valid() || contains(v)) << "output id " << v.index;
  Node& n = nodes_.emplace_back();
  n.id_ = id;
  n.name_ = std::move(spec.name);
  n.op_type_ = std::move(spec.op_type);
  n.domain_ = std::move(spec.domain);
  n.inputs_ = std::move(spec.inputs);
  n.outputs_ = std::move(spec.outputs);
  n.attributes_ = std::move(spec.attributes);
  n.doc_string_ = std::move(spec.doc_string);
  for (size_t i = 0; i < n.inputs_.size(); ++i) {
    if (n.inputs_[i].valid()) {
      values_[static_cast<size_t>(n.inputs_[i].index)].uses_.push_back(
          Use{id, static_cast<int>(i)});
    }
  }
  for (size_t i = 0; i < n.outputs_.size(); ++i) {
    if (!n.outputs_[i].valid()) continue;
    Value& v = values_[static_cast<size_t>(n.outputs_[i].index)];
    if (!v.producer_.valid()) {
      v.producer_ = id;
      v.producer_output_ = static_cast<int>(i);
    }
  }
  return id;
}

void Graph::AddGraphInput(ValueId id) {
  MP_CHECK(contains(id)) << "graph input id " << id.index;
  inputs_.push_back(id);
}

void Graph::AddGraphOutput(ValueId id) {
  MP_CHECK(contains(id)) << "graph output id " << id.index;
  outputs_.push_back(id);
}

void Graph::SetGraphOutputs(std::vector<ValueId> ids) {
  for (ValueId id : ids) MP_CHECK(contains(id)) << "graph output id " << id.index;
  outputs_ = std::move(ids);
}

void Graph::RemoveUse(ValueId value, NodeId node, int input_index) {
  std::vector<Use>& uses = values_[static_cast<size_t>(value.index)].uses_;
  auto it = std::find(uses.begin(), uses.end(), Use{node, input_index});
  MP_CHECK(it != uses.end()) << "use list of value " << value.index << " lacks node " << node.index
                             << " input " << input_index;
  uses.erase(it);
}

void Graph::SetNodeInput(NodeId node_id, int index, ValueId value) {
  MP_CHECK(contains(node_id) && index >= 0);
  MP_CHECK(!value.valid() || contains(value)) << "value id " << value.index;
  Node& n = nodes_[static_cast<size_t>(node_id.index)];
  if (static_cast<size_t>(index) >= n.inputs_.size()) {
    n.inputs_.resize(static_cast<size_t>(index) + 1, kNoValue);
  }
  ValueId& slot = n.inputs_[static_cast<size_t>(index)];
  if (slot.valid()) RemoveUse(slot, node_id, index);
  slot = value;
  if (value.valid()) values_[static_cast<size_t>(value.index)].uses_.push_back({node_id, index});
}

void Graph::SetNodeOutput(NodeId node_id, int index, ValueId value) {
  MP_CHECK(contains(node_id) && index >= 0);
  MP_CHECK(!value.valid() || contains(value)) << "value id " << value.index;
  Node& n = nodes_[static_cast<size_t>(node_id.index)];
  if (static_cast<size_t>(index) >= n.outputs_.size()) {
    n.outputs_.resize(static_cast<size_t>(index) + 1, kNoValue);
  }
  ValueId& slot = n.outputs_[static_cast<size_t>(index)];
  if (slot == value) return;
  if (value.valid()) {
    Value& v = values_[static_cast<size_t>(value.index)];
    MP_CHECK(!v.producer_.valid()) << "value '" << v.name_ << "' already has a producer";
    v.producer_ = node_id;
    v.producer_output_ = index;
  }
  if (slot.valid()) {
    Value& old = values_[static_cast<size_t>(slot.index)];
    if (old.producer_ == node_id && old.producer_output_ == index) {
      old.producer_ = kNoNode;
      old.producer_output_ = -1;
    }
  }
  slot = value;
}

void Graph::SetConstant(ValueId id, tensor::Tensor data) {
  MP_CHECK(contains(id) && data.defined());
  Value& v = values_[static_cast<size_t>(id.index)];
  if (v.producer_.valid()) {
    nodes_[static_cast<size_t>(v.producer_.index)]
        .outputs_[static_cast<size_t>(v.producer_output_)] = kNoValue;
    v.producer_ = kNoNode;
    v.producer_output_ = -1;
  }
  v.dtype_ = data.dtype();
  v.shape_ = PartialShape::Of(data.shape());
  v.initializer_ = std::move(data);
}

void Graph::ClearConstant(ValueId id) {
  MP_CHECK(contains(id));
  values_[static_cast<size_t>(id.index)].initializer_ = tensor::Tensor();
}

void Graph::ReplaceAllUsesWith(ValueId from, ValueId to, bool include_graph_outputs) {
  MP_CHECK(contains(from) && contains(to));
  if (from == to) return;
  std::vector<Use> uses = std::move(values_[static_cast<size_t>(from.index)].uses_);
  values_[static_cast<size_t>(from.index)].uses_.clear();
  for (const Use& u : uses) {
    nodes_[static_cast<size_t>(u.node.index)].inputs_[static_cast<size_t>(u.input_index)] = to;
    values_[static_cast<size_t>(to.index)].uses_.push_back(u);
  }
  if (include_graph_outputs) std::replace(outputs_.begin(), outputs_.end(), from, to);
}

void Graph::RemoveNodes(std::span<const NodeId> ids) {
  std::vector<int32_t> node_map(nodes_.size(), 0);
  for (NodeId id : ids) {
    MP_CHECK(contains(id)) << "node id " << id.index;
    if (node_map[static_cast<size_t>(id.index)] < 0) continue;  // listed twice
    node_map[static_cast<size_t>(id.index)] = -1;
    Node& n = nodes_[static_cast<size_t>(id.index)];
    for (size_t i = 0; i < n.inputs_.size(); ++i) {
      if (n.inputs_[i].valid()) RemoveUse(n.inputs_[i], id, static_cast<int>(i));
    }
    for (ValueId out : n.outputs_) {
      if (!out.valid()) continue;
      Value& v = values_[static_cast<size_t>(out.index)];
      if (v.producer_ == id) {
        v.producer_ = kNoNode;
        v.producer_output_ = -1;
      }
    }
  }
  int32_t next = 0;
  for (int32_t& m : node_map) m = m < 0 ? -1 : next++;
  std::vector<int32_t> value_map(values_.size());
  for (size_t i = 0; i < value_map.size(); ++i) value_map[i] = static_cast<int32_t>(i);
  Renumber(node_map, value_map);
}

void Graph::RemoveValues(std::span<const ValueId> ids) {
  std::vector<int32_t> value_map(values_.size(), 0);
  for (ValueId id : ids) {
    const Value& v = value(id);
    MP_CHECK(!v.producer_.valid() && v.uses_.empty() && !IsGraphInput(id) && !IsGraphOutput(id))
        << "value '" << v.name_ << "' is still referenced";
    value_map[static_cast<size_t>(id.index)] = -1;
  }
  int32_t next = 0;
  for (int32_t& m : value_map) m = m < 0 ? -1 : next++;
  std::vector<int32_t> node_map(nodes_.size());
  for (size_t i = 0; i < node_map.size(); ++i) node_map[i] = static_cast<int32_t>(i);
  Renumber(node_map, value_map);
}

int Graph::RemoveDeadNodes(bool keep_unused_initializers) {
  std::vector<bool> live_node(nodes_.size(), false);
  std::vector<bool> seen_value(values_.size(), false);
  std::vector<ValueId> stack(outputs_.begin(), outputs_.end());
  while (!stack.empty()) {
    const ValueId v = stack.back();
    stack.pop_back();
    if (seen_value[static_cast<size_t>(v.index)]) continue;
    seen_value[static_cast<size_t>(v.index)] = true;
    const NodeId p = values_[static_cast<size_t>(v.index)].producer_;
    if (!p.valid() || live_node[static_cast<size_t>(p.index)]) continue;
    live_node[static_cast<size_t>(p.index)] = true;
    for (ValueId in : nodes_[static_cast<size_t>(p.index)].inputs_) {
      if (in.valid()) stack.push_back(in);
    }
  }
  std::vector<NodeId> dead;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!live_node[i]) dead.push_back(NodeId{static_cast<int32_t>(i)});
  }
  RemoveNodes(dead);
  std::vector<ValueId> unused;
  for (const Value& v : values_) {
    if (v.producer_.valid() || !v.uses_.empty() || IsGraphInput(v.id_) || IsGraphOutput(v.id_))
      continue;
    if (v.is_constant() && keep_unused_initializers) continue;
    unused.push_back(v.id_);
  }
  if (!unused.empty()) RemoveValues(unused);
  return static_cast<int>(dead.size());
}

absl::Status Graph::SortNodesTopologically() {
  absl::StatusOr<std::vector<NodeId>> order = TopologicalOrder(*this);
  if (!order.ok()) return order.status();
  std::vector<int32_t> node_map(nodes_.size(), -1);
  for (size_t k = 0; k < order->size(); ++k) {
    node_map[static_cast<size_t>((*order)[k].index)] = static_cast<int32_t>(k);
  }
  std::vector<int32_t> value_map(values_.size());
  for (size_t i = 0; i < value_map.size(); ++i) value_map[i] = static_cast<int32_t>(i);
  Renumber(node_map, value_map);
  return absl::OkStatus();
}

void Graph::Renumber(const std::vector<int32_t>& node_map, const std::vector<int32_t>& value_map) {
  auto map_value = [&value_map](ValueId v) {
    return v.valid() ? ValueId{value_map[static_cast<size_t>(v.index)]} : kNoValue;
  };
  auto map_node = [&node_map](NodeId n) {
    return n.valid() ? NodeId{node_map[static_cast<size_t>(n.index)]} : kNoNode;
  };
  size_t kept_nodes = 0;
  for (int32_t m : node_map) kept_nodes += m >= 0 ? 1 : 0;
  std::vector<Node> nodes(kept_nodes);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (node_map[i] < 0) continue;
    Node& n = nodes[static_cast<size_t>(node_map[i])];
    n = std::move(nodes_[i]);
    n.id_ = NodeId{node_map[i]};
    for (ValueId& v : n.inputs_) v = map_value(v);
    for (ValueId& v : n.outputs_) v = map_value(v);
  }
  size_t kept_values = 0;
  for (int32_t m : value_map) kept_values += m >= 0 ? 1 : 0;
  std::vector<Value> values(kept_values);
  for (size_t i = 0; i < values_.size(); ++i) {
    if (value_map[i] < 0) continue;
    Value& v = values[static_cast<size_t>(value_map[i])];
    v = std::move(values_[i]);
    v.id_ = ValueId{value_map[i]};
    v.producer_ = map_node(v.producer_);
    if (!v.producer_.valid()) v.producer_output_ = -1;
    std::vector<Use> uses;
    for (const Use& u : v.uses_) {
      const NodeId n = map_node(u.node);
      if (n.valid()) uses.push_back(Use{n, u.input_index});
    }
    v.uses_ = std::move(uses);
  }
  nodes_ = std::move(nodes);
  values_ = std::move(values);
  for (ValueId& v : inputs_) v = map_value(v);
  for (ValueId& v : outputs_) v = map_value(v);
  ReindexNames();
}

void Graph::ReindexNames() {
  by_name_.clear();
  for (const Value& v : values_) by_name_.try_emplace(v.name_, v.id_);
}

}  // namespace mp::ir
