// Test helpers for the session and the structural ops: build small models by name and run
// them through a real Session (so op tests also exercise planning and folding).
// Test-only; header-only.
#ifndef MP_WORKERS_ENGINE_EXEC_EXEC_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_EXEC_EXEC_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/ir/graph.h"

namespace mp::exec::testing {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

class ModelBuilder {
 public:
  explicit ModelBuilder(int64_t opset = 17) { model_.opset_imports.push_back({"", opset}); }

  // A graph input; `dims` entries < 0 are unknown (symbolic "N").
  ModelBuilder& Input(const std::string& name, DType dtype, std::vector<int64_t> dims) {
    std::vector<ir::Dim> d;
    for (int64_t v : dims) d.push_back(v >= 0 ? ir::Dim{v, ""} : ir::Dim{-1, "N"});
    g().AddGraphInput(g().AddValue(name, dtype, ir::PartialShape(std::move(d))));
    return *this;
  }
  ModelBuilder& Const(const std::string& name, Tensor t) {
    g().AddInitializer(name, std::move(t));
    return *this;
  }
  // Inputs/outputs by name; "" = omitted slot. Output values are created on first mention.
  ModelBuilder& Node(const std::string& op, std::vector<std::string> inputs,
                     std::vector<std::string> outputs, std::vector<ir::Attribute> attrs = {},
                     const std::string& name = "") {
    ir::NodeSpec spec;
    spec.name = name.empty() ? "n" + std::to_string(g().num_nodes()) : name;
    spec.op_type = op;
    spec.attributes = std::move(attrs);
    for (const std::string& in : inputs) {
      spec.inputs.push_back(in.empty() ? ir::kNoValue : Value(in));
    }
    for (const std::string& out : outputs) {
      spec.outputs.push_back(out.empty() ? ir::kNoValue : Value(out));
    }
    g().AddNode(std::move(spec));
    return *this;
  }
  ModelBuilder& Output(const std::string& name) {
    g().AddGraphOutput(Value(name));
    return *this;
  }
  ir::Model Build() const { return model_; }

 private:
  ir::Graph& g() { return model_.graph; }
  ir::ValueId Value(const std::string& name) {
    ir::ValueId id = g().FindValue(name);
    return id.valid() ? id : g().AddValue(name);
  }
  ir::Model model_;
};

// Runs one node: each input is a graph input (or an initializer when its name starts with
// "c"), outputs are graph outputs y0, y1, ... for the present slots.
struct NodeCall {
  std::string op = {};
  std::vector<std::pair<std::string, Tensor>> inputs = {};  // name "" = omitted
  std::vector<ir::Attribute> attrs = {};
  int num_outputs = 1;
  int64_t opset = 17;
  int num_threads = 2;
  std::vector<bool> outputs_present = {};  // default: all
};

inline absl::StatusOr<std::vector<Tensor>> RunNode(const NodeCall& call) {
  ModelBuilder b(call.opset);
  NamedTensors feeds;
  std::vector<std::string> in_names, out_names;
  for (const auto& [name, t] : call.inputs) {
    in_names.push_back(name);
    if (name.empty()) continue;
    if (name[0] == 'c') {
      b.Const(name, t);
    } else {
      b.Input(name, t.dtype(), t.shape().dims());
      feeds.emplace_back(name, t);
    }
  }
  for (int j = 0; j < call.num_outputs; ++j) {
    const bool present = call.outputs_present.empty() || call.outputs_present[j];
    out_names.push_back(present ? "y" + std::to_string(j) : "");
  }
  b.Node(call.op, in_names, out_names, call.attrs);
  for (const std::string& out : out_names) {
    if (!out.empty()) b.Output(out);
  }
  ASSIGN_OR_RETURN(auto session, Session::Create(b.Build(), {.num_threads = call.num_threads}));
  ASSIGN_OR_RETURN(NamedTensors outs, session->Run(feeds));
  std::vector<Tensor> result;
  for (auto& [name, t] : outs) result.push_back(std::move(t));
  return result;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  auto s = t.span<T>();
  return std::vector<T>(s.begin(), s.end());
}

template <typename T>
Tensor Iota(Shape shape, T start = T(0)) {
  std::vector<T> v(static_cast<size_t>(shape.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(start + static_cast<T>(i));
  return Tensor::FromVector<T>(std::move(shape), v);
}

inline Tensor I64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::FromVector<int64_t>(Shape({n}), v);
}

}  // namespace mp::exec::testing

#endif  // MP_WORKERS_ENGINE_EXEC_EXEC_TEST_UTIL_H_
