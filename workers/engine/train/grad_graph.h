// mp::train::GradGraph — reverse-mode automatic differentiation over an ir::Model.
//
//   ASSIGN_OR_RETURN(auto graph, GradGraph::Create(model, {.num_threads = 4, .seed = 1}));
//   ASSIGN_OR_RETURN(exec::NamedTensors outs, graph->Forward({{"input", x}}, Mode::kTrain));
//   RETURN_IF_ERROR(graph->Backward({dloss_dlogits}));   // += into parameters()[i].grad
//   ... optimizer updates parameters()[i].value in place, ZeroGrad(), repeat ...
//   ASSIGN_OR_RETURN(ir::Model trained, graph->ExportModel());
//
// See train.h for the module documentation (the backward-rule table, determinism,
// what is a parameter and what is state).
#ifndef MP_WORKERS_ENGINE_TRAIN_GRAD_GRAPH_H_
#define MP_WORKERS_ENGINE_TRAIN_GRAD_GRAPH_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/kernels/parallel.h"
#include "workers/engine/tensor/tensor.h"
#include "workers/engine/train/parameter.h"

namespace mp::train {

enum class Mode { kTrain, kEval };

struct GradGraphOptions {
  int num_threads = 1;  // kernels::ThreadPool size; results bit-identical for any count
  uint64_t seed = 0;    // Dropout masks: derived from (seed, step counter), reproducible
  std::vector<std::string> frozen = {};  // initializer names NOT to train (no Parameter)
  // Intermediate value names also returned by Forward (after the graph outputs) and
  // accepting gradients in Backward (for feature-distillation losses).
  std::vector<std::string> extra_outputs = {};
  // Backward also computes dLoss/d(graph inputs), read with InputGradient (gradient checks,
  // saliency); off, that work is skipped.
  bool input_gradients = false;
};

namespace internal {
struct Plan;
struct Rule;
}  // namespace internal

class GradGraph {
 public:
  // Validates the fp32 model once: every node's op has a backward rule (else UNIMPLEMENTED
  // "node 'x' (Foo): op Foo has no backward rule"), unsupported attributes rejected naming
  // the attribute, constant subgraphs (Shape->Gather->Concat->Reshape chains, Constant
  // nodes) folded (per input-shape signature, at the first Forward for it).
  // BatchNormalization is not folded into Conv (it trains). Trainable parameters: float32
  // initializers on a differentiable path to an output (weights, biases, BN scale/B), in
  // the order the graph's nodes first read them; BN running mean/var are state, not
  // parameters (updated in kTrain with ONNX's momentum semantics; exported).
  // Parameter::decay is false for biases (Conv/Gemm input 2) and BN scale/B.
  static absl::StatusOr<std::unique_ptr<GradGraph>> Create(const ir::Model& model,
                                                           GradGraphOptions options = {});
  ~GradGraph();
  GradGraph(const GradGraph&) = delete;
  GradGraph& operator=(const GradGraph&) = delete;

  std::span<Parameter> parameters() { return parameters_; }

  // Runs the graph. kTrain: BN uses batch statistics and updates running stats, Dropout
  // drops (seeded; the step counter advances once per kTrain Forward); keeps what Backward
  // needs. kEval: inference semantics, keeps nothing. Feeds validated like
  // exec::Session::Run (names, dtype, rank, dims) with clear errors. Returns the graph
  // outputs in declaration order, then GradGraphOptions::extra_outputs.
  absl::StatusOr<exec::NamedTensors> Forward(const exec::NamedTensors& feeds, Mode mode);

  // Given dLoss/dOutput for each output of the last kTrain Forward (graph outputs then
  // extra_outputs, same order and shapes; an undefined Tensor means zero), ACCUMULATES
  // (+=) dLoss/dParam into parameters()[i].grad. FAILED_PRECONDITION without a kTrain
  // Forward; INVALID_ARGUMENT naming the output for a wrong count, dtype or shape.
  absl::Status Backward(std::span<const tensor::Tensor> output_grads);

  void ZeroGrad();

  // The model with the current parameter values and BN running stats as initializers; runs
  // in exec::Session / ONNX Runtime like the input model did.
  absl::StatusOr<ir::Model> ExportModel() const;

  // dLoss/d(graph input `name`) from the last Backward (not accumulated across calls);
  // needs GradGraphOptions::input_gradients. NOT_FOUND for a name that is not a graph
  // input, FAILED_PRECONDITION without input_gradients or before any Backward. Used by gradient
  // checks and input-saliency tools.
  absl::StatusOr<tensor::Tensor> InputGradient(std::string_view name) const;

  // Names of the BN running-statistics initializers treated as state.
  std::vector<std::string> StateNames() const;

 private:
  GradGraph() = default;
  absl::StatusOr<internal::Plan*> GetPlan(const std::vector<tensor::Shape>& shapes);

  ir::Model model_;  // verified, topologically sorted
  GradGraphOptions options_;
  int64_t opset_ = 0;
  std::unique_ptr<kernels::ThreadPool> pool_;
  std::vector<Parameter> parameters_;
  std::vector<const internal::Rule*> rules_;  // per node; null = constant (folded) node
  std::vector<int> param_of_value_;           // value index -> parameter index or -1
  std::vector<int> state_of_value_;           // value index -> state index or -1
  std::vector<tensor::Tensor> state_;         // BN running stats (owned copies)
  std::vector<ir::ValueId> state_values_;
  std::vector<bool> variable_;      // value depends on a feed or parameter
  std::vector<bool> needs_grad_;    // gradient flows to this value
  std::vector<ir::ValueId> feeds_;  // feedable graph inputs
  std::vector<exec::IoInfo> feed_info_;
  std::vector<ir::ValueId> outputs_;  // graph outputs then extra outputs
  std::vector<std::unique_ptr<internal::Plan>> plans_;
  // Last kTrain Forward.
  bool have_train_forward_ = false;
  internal::Plan* train_plan_ = nullptr;
  std::vector<tensor::Tensor> values_;              // per value
  std::vector<std::vector<tensor::Tensor>> saved_;  // per node, rule-specific
  std::vector<tensor::Tensor> input_grads_;         // per feed, last Backward
  bool have_backward_ = false;
  uint64_t step_ = 0;
};

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_GRAD_GRAPH_H_
