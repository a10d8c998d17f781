// The one table of backward rules (DESIGN.md §4 rule 8), internal to mp_engine_train.
//
// A Rule names an op type and says, for each input slot, whether a gradient flows into it.
// Its forward is either the inference kernel of exec's OpRegistry (forward == nullptr: the
// GradGraph prepares and runs the exec op; the rule's backward then recomputes what it needs
// from the saved inputs/outputs) or its own (BatchNormalization and Dropout, whose training
// semantics differ from inference). backward receives the forward's inputs, outputs and
// `saved` tensors, and the gradient of every output (undefined = zero; the GradGraph calls
// backward only when at least one is defined), and returns a gradient per input slot for
// the slots in `needs_input_grad` (fresh tensors; the GradGraph sums them into its buffers).
//
// Each family file rules_<family>.cc defines Register<Family>Rules; rules.cc lists them.
#ifndef MP_WORKERS_ENGINE_TRAIN_RULES_H_
#define MP_WORKERS_ENGINE_TRAIN_RULES_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/kernels/elementwise.h"
#include "workers/engine/kernels/parallel.h"
#include "workers/engine/tensor/tensor.h"
#include "workers/engine/train/grad_graph.h"

namespace mp::train::internal {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

struct ForwardContext {
  const ir::Node& node;
  int64_t opset = 0;
  Mode mode = Mode::kEval;
  std::span<const Tensor> inputs;  // per slot; undefined for omitted slots
  std::vector<Tensor>* outputs;    // per slot; the rule fills the present ones
  std::vector<Tensor>* saved;      // kTrain: what backward needs
  std::span<Tensor> state;         // per input slot: the mutable state tensor (BN stats)
  uint64_t seed = 0;               // (options seed, step, node) mixed: Dropout masks
  kernels::ThreadPool* pool = nullptr;
};

struct BackwardContext {
  const ir::Node& node;
  int64_t opset = 0;
  std::span<const Tensor> inputs;        // forward inputs
  std::span<const Tensor> outputs;       // forward outputs
  std::span<const Tensor> output_grads;  // per output slot; undefined = zero
  std::span<const Tensor> saved;
  std::vector<bool> needs_input_grad;  // per input slot
  std::vector<Tensor>* input_grads;    // per input slot; the rule fills needed ones
  kernels::ThreadPool* pool = nullptr;
};

using ValidateFn = absl::Status (*)(const ir::Node& node, int64_t opset);
using ForwardFn = absl::Status (*)(ForwardContext& ctx);
using BackwardFn = absl::Status (*)(BackwardContext& ctx);

struct Rule {
  std::string_view op_type = {};
  // "" = the default ONNX domain; else a private domain (kQatDomain) whose ops exec does not
  // run: such a rule must have its own forward, which also serves constant inputs.
  std::string_view domain = {};
  // Bit i set: a gradient flows into input slot i.
  uint32_t differentiable_inputs = 1;
  // Bit i set: input slot i is state the forward updates in kTrain (BN running mean/var).
  uint32_t state_inputs = 0;
  // Bit i set: a Parameter in slot i gets decay = false (biases, BN scale/B).
  uint32_t no_decay_inputs = 0;
  ValidateFn validate = nullptr;  // attribute checks at Create; null = none
  ForwardFn forward = nullptr;    // null = exec's inference kernel
  BackwardFn backward = nullptr;
};

class RuleTable {
 public:
  void Register(const Rule& rule);
  // The rule of (domain, op_type); "ai.onnx" means "". Null when there is none.
  const Rule* Find(std::string_view domain, std::string_view op_type) const;
  const Rule* Find(std::string_view op_type) const { return Find("", op_type); }
  std::span<const Rule> rules() const { return rules_; }
  static const RuleTable& Default();

 private:
  std::vector<Rule> rules_;
};

// ==== Family registration functions (rules.cc calls them in this order) ==================
void RegisterElementwiseRules(RuleTable* table);  // rules_elementwise.cc: activations, Add..
void RegisterShapeRules(RuleTable* table);        // rules_shape.cc: Reshape, Flatten, ...
void RegisterLinearRules(RuleTable* table);       // rules_linear.cc: Gemm, MatMul
void RegisterConvRules(RuleTable* table);         // rules_conv.cc: Conv, pools
void RegisterNormRules(RuleTable* table);         // rules_norm.cc: BN, Softmax, Dropout
void RegisterMathRules(RuleTable* table);         // rules_math.cc: Div Pow Sqrt Erf ReduceMean..
void RegisterQatRules(RuleTable* table);          // rules_qat.cc: FakeQuantize(Weight), qat.h
// ==== end of family list ================================================================

// ---- Helpers shared by the rule files (rules.cc) ----------------------------------------

// A zero-filled float32 tensor of `shape`.
Tensor ZerosLike(const Shape& shape);
// The output gradient `j`, or zeros of the output's shape when undefined.
Tensor OutputGradOrZeros(const BackwardContext& ctx, int j);
// Sums `g` (shape `from`) over broadcast axes down to `to` (numpy broadcasting of `to` into
// `from`), in a fixed order: deterministic for any thread count.
Tensor ReduceToShape(const Tensor& g, const Shape& to);
// op(a, b) with numpy broadcasting of both to `out` (kernels::Binary).
Tensor BroadcastBinary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out,
                       kernels::ThreadPool* pool);
// Elementwise y[i] = f(i) over n elements, split over the pool.
void ParallelElements(kernels::ThreadPool* pool, int64_t n,
                      const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace mp::train::internal

#endif  // MP_WORKERS_ENGINE_TRAIN_RULES_H_
