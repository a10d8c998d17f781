// Helpers for building small graphs in ir tests.
#ifndef MP_WORKERS_ENGINE_IR_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_IR_TEST_UTIL_H_

#include <string>
#include <vector>

#include "workers/engine/ir/graph.h"

namespace mp::ir::testing {

// Adds a node `op` reading values named `inputs` ("" = omitted) and writing new values
// named `outputs` (created as needed).
inline NodeId Add(Graph& g, std::string name, std::string op, std::vector<std::string> inputs,
                  std::vector<std::string> outputs, std::vector<Attribute> attrs = {}) {
  NodeSpec spec;
  spec.name = std::move(name);
  spec.op_type = std::move(op);
  for (const std::string& in : inputs) {
    if (in.empty()) {
      spec.inputs.push_back(kNoValue);
      continue;
    }
    ValueId v = g.FindValue(in);
    if (!v.valid()) v = g.AddValue(in);
    spec.inputs.push_back(v);
  }
  for (const std::string& out : outputs) {
    if (out.empty()) {
      spec.outputs.push_back(kNoValue);
      continue;
    }
    ValueId v = g.FindValue(out);
    if (!v.valid()) v = g.AddValue(out, DType::kFloat32);
    spec.outputs.push_back(v);
  }
  spec.attributes = std::move(attrs);
  return g.AddNode(std::move(spec));
}

inline ValueId Input(Graph& g, std::string name) {
  const ValueId v = g.AddValue(std::move(name), DType::kFloat32);
  g.AddGraphInput(v);
  return v;
}

inline std::vector<std::string> NodeNames(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes()) names.push_back(n.name());
  return names;
}

}  // namespace mp::ir::testing

#endif  // MP_WORKERS_ENGINE_IR_TEST_UTIL_H_
