#include "workers/engine/ir/verify.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "common/str_cat.h"

namespace mp::ir {
namespace {

// First producer of each value, computed from the nodes (not the cached fields). Ids out of
// range are skipped (Verify reports them first).
std::vector<NodeId> ComputeProducers(const Graph& g) {
  std::vector<NodeId> producer(static_cast<size_t>(g.num_values()));
  for (const Node& n : g.nodes()) {
    for (ValueId v : n.outputs()) {
      if (g.contains(v) && !producer[static_cast<size_t>(v.index)].valid()) {
        producer[static_cast<size_t>(v.index)] = n.id();
      }
    }
  }
  return producer;
}

std::string ValueLabel(const Graph& g, ValueId v) { return StrCat("'", g.value(v).name(), "'"); }

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

}  // namespace

absl::StatusOr<std::vector<NodeId>> TopologicalOrder(const Graph& graph) {
  const std::vector<NodeId> producer = ComputeProducers(graph);
  const size_t n = static_cast<size_t>(graph.num_nodes());
  std::vector<int> pending(n, 0);
  std::vector<std::vector<NodeId>> successors(n);
  for (const Node& node : graph.nodes()) {
    for (ValueId in : node.inputs()) {
      if (!graph.contains(in)) continue;
      const NodeId p = producer[static_cast<size_t>(in.index)];
      if (!p.valid()) continue;
      ++pending[static_cast<size_t>(node.id().index)];
      successors[static_cast<size_t>(p.index)].push_back(node.id());
    }
  }
  std::priority_queue<int32_t, std::vector<int32_t>, std::greater<int32_t>> ready;
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(static_cast<int32_t>(i));
  }
  std::vector<NodeId> order;
  order.reserve(n);
  while (!ready.empty()) {
    const NodeId id{ready.top()};
    ready.pop();
    order.push_back(id);
    for (NodeId s : successors[static_cast<size_t>(id.index)]) {
      if (--pending[static_cast<size_t>(s.index)] == 0) ready.push(s.index);
    }
  }
  if (order.size() == n) return order;

  // Some node is stuck. Walk backwards through stuck producers until a node repeats: that
  // node is on a cycle (every stuck node has a stuck predecessor).
  NodeId at;
  for (size_t i = 0; i < n && !at.valid(); ++i) {
    if (pending[i] > 0) at = NodeId{static_cast<int32_t>(i)};
  }
  std::vector<int> visit_step(n, -1);
  std::vector<NodeId> path;
  while (visit_step[static_cast<size_t>(at.index)] < 0) {
    visit_step[static_cast<size_t>(at.index)] = static_cast<int>(path.size());
    path.push_back(at);
    NodeId next;
    for (ValueId in : graph.node(at).inputs()) {
      if (!graph.contains(in)) continue;
      const NodeId p = producer[static_cast<size_t>(in.index)];
      if (p.valid() && pending[static_cast<size_t>(p.index)] > 0) {
        next = p;
        break;
      }
    }
    at = next;  // always valid: a stuck node has a stuck producer
  }
  // path[visit_step[at]..] is the cycle, walked against the edges; print it forwards.
  std::string cycle;
  for (size_t k = path.size();
       k-- > static_cast<size_t>(visit_step[static_cast<size_t>(at.index)]);) {
    cycle += graph.node(path[k]).Describe() + " -> ";
  }
  cycle += graph.node(path.back()).Describe();
  return absl::InvalidArgumentError(StrCat("graph has a cycle: ", cycle));
}

absl::Status Verify(const Graph& g) {
  // 1. Ids in range.
  for (const Node& n : g.nodes()) {
    if (n.op_type().empty()) return Invalid(StrCat(n.Describe(), ": empty op_type"));
    for (int i = 0; i < n.num_inputs(); ++i) {
      const ValueId v = n.inputs()[static_cast<size_t>(i)];
      if (v.valid() && !g.contains(v)) {
        return Invalid(StrCat(n.Describe(), ": input ", i, " has unknown value id ", v.index));
      }
    }
    for (int i = 0; i < n.num_outputs(); ++i) {
      const ValueId v = n.outputs()[static_cast<size_t>(i)];
      if (v.valid() && !g.contains(v)) {
        return Invalid(StrCat(n.Describe(), ": output ", i, " has unknown value id ", v.index));
      }
    }
  }
  for (ValueId v : g.inputs()) {
    if (!g.contains(v)) return Invalid(StrCat("graph input has unknown value id ", v.index));
  }
  for (ValueId v : g.outputs()) {
    if (!g.contains(v)) return Invalid(StrCat("graph output has unknown value id ", v.index));
  }

  // 2. Names.
  absl::flat_hash_map<std::string, ValueId> names;
  for (const Value& v : g.values()) {
    if (v.name().empty()) return Invalid(StrCat("value #", v.id().index, " has an empty name"));
    auto [it, inserted] = names.try_emplace(v.name(), v.id());
    if (!inserted) {
      return Invalid(StrCat("duplicate value name '", v.name(), "' (values #", it->second.index,
                            " and #", v.id().index, ")"));
    }
  }
  std::vector<bool> is_input(static_cast<size_t>(g.num_values()), false);
  for (ValueId v : g.inputs()) {
    if (is_input[static_cast<size_t>(v.index)]) {
      return Invalid(StrCat("value ", ValueLabel(g, v), " is listed twice as a graph input"));
    }
    is_input[static_cast<size_t>(v.index)] = true;
  }

  // 3. Producers: at most one, never for a graph input or a constant.
  std::vector<NodeId> producer(static_cast<size_t>(g.num_values()));
  std::vector<int> producer_slot(static_cast<size_t>(g.num_values()), -1);
  for (const Node& n : g.nodes()) {
    for (int i = 0; i < n.num_outputs(); ++i) {
      const ValueId v = n.outputs()[static_cast<size_t>(i)];
      if (!v.valid()) continue;
      NodeId& p = producer[static_cast<size_t>(v.index)];
      if (p.valid()) {
        return Invalid(StrCat("value ", ValueLabel(g, v), " is produced twice: by ",
                              g.node(p).Describe(), " and by ", n.Describe()));
      }
      p = n.id();
      producer_slot[static_cast<size_t>(v.index)] = i;
      if (is_input[static_cast<size_t>(v.index)]) {
        return Invalid(
            StrCat("graph input ", ValueLabel(g, v), " is also produced by ", n.Describe()));
      }
      if (g.value(v).is_constant()) {
        return Invalid(
            StrCat("initializer ", ValueLabel(g, v), " is also produced by ", n.Describe()));
      }
    }
  }

  // 4. Everything read is defined.
  auto defined = [&](ValueId v) {
    return is_input[static_cast<size_t>(v.index)] || g.value(v).is_constant() ||
           producer[static_cast<size_t>(v.index)].valid();
  };
  for (const Node& n : g.nodes()) {
    for (int i = 0; i < n.num_inputs(); ++i) {
      const ValueId v = n.inputs()[static_cast<size_t>(i)];
      if (v.valid() && !defined(v)) {
        return Invalid(StrCat(n.Describe(), ": input ", i, " ", ValueLabel(g, v),
                              " is dangling (not a graph input, initializer or node output)"));
      }
    }
  }
  for (ValueId v : g.outputs()) {
    if (!defined(v)) {
      return Invalid(StrCat("graph output ", ValueLabel(g, v),
                            " is dangling (not a graph input, initializer or node output)"));
    }
  }

  // 5. Cached producer / uses agree with the nodes.
  std::vector<std::vector<Use>> uses(static_cast<size_t>(g.num_values()));
  for (const Node& n : g.nodes()) {
    for (int i = 0; i < n.num_inputs(); ++i) {
      const ValueId v = n.inputs()[static_cast<size_t>(i)];
      if (v.valid()) uses[static_cast<size_t>(v.index)].push_back(Use{n.id(), i});
    }
  }
  auto by_node = [](const Use& a, const Use& b) {
    return std::pair(a.node, a.input_index) < std::pair(b.node, b.input_index);
  };
  for (const Value& v : g.values()) {
    const size_t k = static_cast<size_t>(v.id().index);
    if (v.producer() != producer[k] ||
        (producer[k].valid() && v.producer_output_index() != producer_slot[k])) {
      return Invalid(
          StrCat("internal: cached producer of value ", ValueLabel(g, v.id()), " is stale"));
    }
    std::vector<Use> cached = v.uses();
    std::sort(cached.begin(), cached.end(), by_node);
    std::sort(uses[k].begin(), uses[k].end(), by_node);
    if (cached != uses[k]) {
      return Invalid(
          StrCat("internal: cached uses of value ", ValueLabel(g, v.id()), " are stale"));
    }
  }

  // 6. Constants agree with declarations.
  for (const Value& v : g.values()) {
    if (!v.is_constant()) continue;
    const tensor::Tensor& t = v.initializer();
    if (v.dtype() != DType::kUndefined && v.dtype() != t.dtype()) {
      return Invalid(StrCat("initializer ", ValueLabel(g, v.id()), " holds ",
                            tensor::DTypeName(t.dtype()), " but is declared ",
                            tensor::DTypeName(v.dtype())));
    }
    if (v.shape().has_rank()) {
      bool ok = v.shape().rank() == t.rank();
      for (int i = 0; ok && i < t.rank(); ++i) {
        const Dim& d = v.shape().dims()[static_cast<size_t>(i)];
        ok = !d.known() || d.size == t.shape().dim(i);
      }
      if (!ok) {
        return Invalid(StrCat("initializer ", ValueLabel(g, v.id()), " has shape ",
                              t.shape().ToString(), " but is declared ", v.shape().ToString()));
      }
    }
  }

  // 7. Acyclic.
  absl::StatusOr<std::vector<NodeId>> order = TopologicalOrder(g);
  if (!order.ok()) return order.status();
  return absl::OkStatus();
}

}  // namespace mp::ir
