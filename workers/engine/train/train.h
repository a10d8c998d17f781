// mp::train — training on the engine's own kernels (fine-tuning pruned models,
// distillation). This header is the module's documentation; include it for everything.
//
// ==== Autodiff: grad_graph.h (GradGraph), rules.h (the backward-rule table) ==============
//
//   ASSIGN_OR_RETURN(auto graph, GradGraph::Create(model, {.num_threads = 4, .seed = 7}));
//   for (each batch) {
//     ASSIGN_OR_RETURN(auto outs, graph->Forward({{"input", x}}, Mode::kTrain));
//     // loss and dLoss/dlogits from loss.h
//     RETURN_IF_ERROR(graph->Backward({dlogits}));  // += into parameters()[i].grad
//     // optimizer step on graph->parameters(), then graph->ZeroGrad()
//   }
//   ASSIGN_OR_RETURN(ir::Model trained, graph->ExportModel());
//
// What is trained. Parameters are the float32 initializers from which a gradient reaches an
// output (or an extra output) through differentiable input slots, minus
// GradGraphOptions::frozen; biases (Conv/Gemm input 2), BN scale/B and every rank <= 1
// parameter get decay = false. BN running mean/var are state: updated in kTrain,
// exported, never parameters. Every other initializer is a constant.
//
// Validation at Create. Every node that computes from a feed or a parameter must have a
// backward rule: UNIMPLEMENTED "node 'x' (Foo): op Foo has no backward rule". Shape and Size
// need none (their outputs depend only on shapes), nor do constant subgraphs (Constant
// nodes, Shape -> Gather -> Concat -> Reshape chains): those are folded per input-shape
// signature at the first Forward for it. Rules reject unsupported attributes naming them.
//
// Execution. Forward reuses exec's inference kernels (exec/op_registry.h) for every op
// except BatchNormalization and Dropout, whose training semantics have their own forward
// (rules_norm.cc). Weights are read from the Parameter tensors at every Forward (never
// packed across steps), so an optimizer may update them in place. kTrain keeps every
// value and what each rule saved; kEval keeps nothing (BN uses running stats, Dropout is
// the identity). Backward walks the nodes in reverse topological order; each rule returns
// fresh input gradients, summed (+=) into per-value buffers, then into Parameter::grad.
//
// The rule table (rules.h, one entry per op; files rules_<family>.cc):
//   elementwise: Relu LeakyRelu Sigmoid Tanh HardSwish Clip (kernels/activation_grad.h),
//                Add Sub Mul with numpy broadcasting (gradients summed over broadcast axes)
//   math:        Div Pow (exponent not trained) Sqrt Erf Exp Log Neg Reciprocal,
//                ReduceMean ReduceSum (what exporters write for LayerNorm, GELU, attention)
//   shape:       Identity Flatten Reshape Squeeze Unsqueeze Transpose Concat Gather
//   linear:      Gemm (transA/transB/alpha/beta) MatMul (batched, broadcast, 1-D)
//   conv:        Conv 1-D/2-D (group, depthwise, stride, dilation, pads, auto_pad),
//                MaxPool AveragePool (pads, ceil_mode, count_include_pad) GlobalAveragePool
//                GlobalMaxPool (kernels/pool_grad.h)
//   norm:        BatchNormalization (training mode), Softmax LogSoftmax (any axis), Dropout
//   qat:         FakeQuantize FakeQuantizeWeight (domain ai.modelpress.train, own scalar
//                forward; exec never runs them): see qat.h
// All five fixtures (mlp, lenet, resnet, mobilenet, transformer) train.
// Each rule has a finite-difference test (rules_*_test.cc); whole models in
// grad_graph_test.cc. Input gradients (dLoss/d feed) are computed only with
// GradGraphOptions::input_gradients (gradient checks, saliency).
//
// Determinism. Results are bit-identical for any num_threads: kernels split over
// independent outputs only; reductions over the batch (weight and bias gradients, BN
// statistics, broadcast sums) run in a fixed order or through Sgemm, which splits over
// output blocks. Dropout masks come from a counter-based hash of (seed, kTrain step, node,
// element), so they do not depend on threads either.
//
// ==== Optimisation: losses, optimizers, schedules, fit loop =============================
//
//   init.h       InitializeParameters(model, seed): PyTorch's default initialisation for
//                "from scratch" training (Conv/Gemm/MatMul weights and biases
//                U(+-1/sqrt(fan_in)), BN scale 1 / B 0 / mean 0 / var 1), parameters found
//                from their consuming nodes; same bytes for a seed on every platform.
//   loss.h       SoftmaxCrossEntropy (label smoothing), KlDivergence (distillation, T^2
//                scaled), MeanSquaredError: mean loss + gradient w.r.t. the output, ready for
//                Backward; log-sum-exp stable; INVALID_ARGUMENT naming the argument.
//   optimizer.h  SGD (momentum, Nesterov, L2 weight decay), Adam (L2), AdamW (decoupled), with
//                PyTorch 1.13's update formulas (tested against torch's numbers), honouring
//                Parameter::decay; SIMD kernels in optimizer_kernels.h; options validated
//                ("optimizer.momentum: 1 is outside [0, 1)").
//   schedule.h   lr(step): constant / step / cosine, each with optional linear warm-up.
//   fit.h        Fit(graph, train, val, options, callback): epochs of seeded shuffled batches
//                (data::Batcher), loss, Backward, optimizer step with the scheduled lr; per-step
//                and per-epoch progress (loss, accuracy, lr, samples/s; the callback may
//                cancel -> CANCELLED); validation in Mode::kEval; Evaluate(graph, data).
//
//   ASSIGN_OR_RETURN(ir::Model model, onnx::ImportModelFile("lenet.onnx"));
//   RETURN_IF_ERROR(InitializeParameters(model, /*seed=*/1).status());
//   ASSIGN_OR_RETURN(auto graph, GradGraph::Create(model, {.num_threads = 2}));
//   ASSIGN_OR_RETURN(FitResult r, Fit(*graph, train, &test,
//       {.epochs = 15, .batch_size = 64,
//        .optimizer = {.kind = OptimizerKind::kAdam, .lr = 2e-3f},
//        .schedule = {.kind = ScheduleKind::kCosine, .warmup_steps = 200}}));
//
// Determinism: same model, data, options and seeds -> same parameter bytes for any thread
// count (the optimizer updates are elementwise; the data order depends only on the seed and
// the epoch). Only timings vary.
//
// ==== Quantization-aware training: qat.h ================================================
//
//   InsertFakeQuant(fp32, calibrated ranges, {.quantizer = qopts}) -> a model with fake
//   quantization on exactly what quant::QuantizeStatic would quantize (learned PACT clipping
//   ranges as scalar parameters, per-channel int8 / 7-bit weights, straight-through
//   gradients); train it like any model (Fit, distill::Distill); RemoveFakeQuant(trained) ->
//   the plain fp32 graph with the trained weights + the learned ranges for QuantizeStatic
//   (or pipeline PtqOptions::fixed_ranges).
//
#ifndef MP_WORKERS_ENGINE_TRAIN_TRAIN_H_
#define MP_WORKERS_ENGINE_TRAIN_TRAIN_H_

#include "workers/engine/train/fit.h"         // IWYU pragma: export
#include "workers/engine/train/grad_graph.h"  // IWYU pragma: export
#include "workers/engine/train/init.h"        // IWYU pragma: export
#include "workers/engine/train/loss.h"        // IWYU pragma: export
#include "workers/engine/train/optimizer.h"   // IWYU pragma: export
#include "workers/engine/train/parameter.h"   // IWYU pragma: export
#include "workers/engine/train/qat.h"         // IWYU pragma: export
#include "workers/engine/train/schedule.h"    // IWYU pragma: export

#endif  // MP_WORKERS_ENGINE_TRAIN_TRAIN_H_
