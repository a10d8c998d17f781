// Test helper for the compute op families: runs ONE node through its registry entry
// (Lookup -> Prepare -> allocate outputs -> Run) without a Session, so op tests do not
// depend on the planner. Test-only; header-only.
#ifndef MP_WORKERS_ENGINE_EXEC_OPS_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_EXEC_OPS_TEST_UTIL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/kernels/parallel.h"

// Tests build OpCall with designated initializers naming only the fields they need; GCC's
// -Wextra would flag every skipped field. This header is included only by op tests.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace mp::exec::testing {

// One input slot: nullopt = omitted optional input; `constant` makes it visible to Prepare.
struct In {
  std::optional<Tensor> t;
  bool constant = false;
  In(Tensor tensor, bool is_constant = false) : t(std::move(tensor)), constant(is_constant) {}
  static In Omitted() { return In(); }

 private:
  In() = default;
};

struct OpCall {
  std::string op_type;
  std::vector<ir::Attribute> attrs;
  std::vector<In> inputs;
  int num_outputs = 1;
  // Output slots requested (default: all).
  std::vector<bool> outputs_present;
  int64_t opset = 17;
  int num_threads = 2;
};

// Runs the call; returns the present outputs (undefined Tensor for absent slots).
inline absl::StatusOr<std::vector<Tensor>> RunOp(const OpCall& call) {
  ir::Graph g;
  ir::NodeSpec spec;
  spec.name = "n0";
  spec.op_type = call.op_type;
  spec.attributes = call.attrs;
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const In& in = call.inputs[i];
    if (!in.t.has_value()) {
      spec.inputs.push_back(ir::kNoValue);
    } else {
      spec.inputs.push_back(
          g.AddValue(StrCat("x", i), in.t->dtype(), ir::PartialShape::Of(in.t->shape())));
    }
  }
  std::vector<bool> present = call.outputs_present;
  if (present.empty()) present.assign(static_cast<size_t>(call.num_outputs), true);
  for (int j = 0; j < call.num_outputs; ++j) {
    spec.outputs.push_back(present[static_cast<size_t>(j)] ? g.AddValue(StrCat("y", j))
                                                           : ir::kNoValue);
  }
  const ir::NodeId id = g.AddNode(std::move(spec));
  const ir::Node& node = g.node(id);
  ASSIGN_OR_RETURN(const OpSchema* schema, OpRegistry::Default().Lookup(node, call.opset));
  std::vector<InputInfo> infos(call.inputs.size());
  std::vector<Tensor> feeds(call.inputs.size());
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const In& in = call.inputs[i];
    if (!in.t.has_value()) continue;
    infos[i].present = true;
    infos[i].dtype = in.t->dtype();
    infos[i].shape = in.t->shape();
    infos[i].value = in.constant ? &*in.t : nullptr;
    infos[i].name = g.value(node.input(static_cast<int>(i))).name();
    feeds[i] = *in.t;
  }
  std::unique_ptr<bool[]> present_arr(new bool[present.size()]);
  for (size_t j = 0; j < present.size(); ++j) present_arr[j] = present[j];
  PrepareContext ctx{node, call.opset, infos,
                     std::span<const bool>(present_arr.get(), present.size())};
  ASSIGN_OR_RETURN(PreparedOp prepared, schema->prepare(ctx));
  std::vector<Tensor> outputs(present.size());
  for (size_t j = 0; j < present.size(); ++j) {
    if (!present[j]) continue;
    const OutputInfo& info = prepared.outputs[j];
    ASSIGN_OR_RETURN(outputs[j], Tensor::Allocate(info.dtype, info.shape));
    // Garbage-fill to catch kernels that do not write every element.
    if (info.dtype == DType::kFloat32) {
      for (float& v : std::span<float>(outputs[j].mutable_data<float>(),
                                       static_cast<size_t>(outputs[j].num_elements()))) {
        v = 12345.0f;
      }
    }
  }
  kernels::ThreadPool pool(call.num_threads);
  RunContext run{feeds, outputs, &pool};
  RETURN_IF_ERROR(prepared.kernel->Run(run));
  return outputs;
}

inline Tensor F(Shape shape, std::vector<float> v) {
  return Tensor::FromVector<float>(std::move(shape), v);
}

// Elementwise comparison with |got - want| <= atol + rtol * |want|.
inline void ExpectNear(const Tensor& got, const Tensor& want, float atol = 1e-5f,
                       float rtol = 1e-5f) {
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.shape(), want.shape())
      << got.shape().ToString() << " vs " << want.shape().ToString();
  const auto g = got.span<float>();
  const auto w = want.span<float>();
  for (size_t i = 0; i < g.size(); ++i) {
    EXPECT_NEAR(g[i], w[i], atol + rtol * std::abs(w[i])) << "at element " << i;
  }
}

}  // namespace mp::exec::testing

#endif  // MP_WORKERS_ENGINE_EXEC_OPS_TEST_UTIL_H_
