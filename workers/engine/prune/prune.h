// mp::prune — pruning that really shrinks models: masks, unstructured magnitude pruning,
// N:M semi-structured pruning, structured channel/filter pruning with graph surgery, model
// statistics, sparsity schedules and per-layer sensitivity analysis.
//
// Prunable layers. A node is a prunable layer when it is a Conv (any group, including
// depthwise), a Gemm, or a MatMul whose weight (input 1) is a constant. Its name is the node
// name, or the weight initializer's name when the node is unnamed. Weights must be float32:
// any other dtype is UNIMPLEMENTED naming the node ("node 'fc' (Gemm): weight 'w' is int8;
// pruning supports float32 weights"), as is a Conv weight whose rank is not 3-5 or a
// Gemm/MatMul weight whose rank is not 2. A model without any prunable layer is
// INVALID_ARGUMENT. Biases are never pruned by the unstructured methods.
//
// Masks. A mask is a uint8 tensor of the weight's shape, 1 = keep, 0 = pruned. Every pruning
// call writes its zeros into the model as NEW initializer tensors (the IR never writes into a
// tensor it holds) and returns the masks, so that fine-tuning can re-apply them after every
// optimizer step with ApplyMasks (on the model, or in place on trainer-owned tensors).
//
// Unstructured magnitude pruning (magnitude.cc). Scores are |w|. Per layer: each layer keeps
// its n - k largest weights, k = round(s * n) (half away from zero). Global: one threshold
// over the pooled weights of every layer without an override, k = round(s * pool); layers
// with an override get their own target as in per-layer mode; no layer of the pool exceeds
// `max_layer_sparsity` (its weights are skipped once the layer reaches the cap, so the
// global count can fall short when the cap binds; the result reports the achieved
// sparsity). Ties are broken deterministically: a smaller |w| is pruned first, then the
// earlier layer (model order), then the lower flat index. Already-zero weights are pruned
// first, so iterative schedules nest (each step's mask contains the previous one).
//
// N:M semi-structured pruning (nm.cc). In every group of M consecutive weights along the
// reduction (K / input-channel) dimension, at most N are kept (the N largest |w|, ties to
// the lower index): 2:4 by default. Groups run along: Conv [O, I/g, k...]: the I/g input
// channels at each (o, kernel position); Gemm transB=1 [N, K] and transB=0 / MatMul [K, N]:
// K for each output column. When K % M != 0 the tail (the last K % M elements) is handled
// by NmTail: kSkipLayer (default; layer left dense, reported), kError (INVALID_ARGUMENT
// naming the layer), or kPartialGroup (the tail group of r elements keeps min(N, r)).
//
// Structured channel pruning (structured_plan.cc, _decide.cc, _surgery.cc). Output channels
// of Conv (group 1) and Gemm producers are removed physically. A channel is followed from
// its producer through channel-preserving ops — BatchNormalization (scale/B/mean/var
// sliced), Relu, Clip, LeakyRelu, HardSwish, HardSigmoid, Sigmoid, Tanh, Dropout, Identity,
// MaxPool, AveragePool, GlobalAveragePool, ReduceMean over spatial axes only, and depthwise
// Conv (group == C, one filter per channel: its filters, bias and group are sliced and the
// channels flow on through it) — to its consumers: Conv with group 1 (input channels
// sliced), Gemm/MatMul with a constant 2-D weight, directly or after Flatten(axis=1) (the
// K rows channel*block .. channel*block + block - 1 are sliced, block = the spatial size).
// Coupled channels: elementwise Add/Sub/Mul/Div/Max/Min whose two operands both carry
// pruned channels joins them into one coupled channel group (union-find); every producer in
// a group keeps the same channel indices, ranked by the group's SUMMED per-producer filter
// norm (L1: sum |w|; L2: sqrt(sum w^2), over the filter and its bias). Concat on the channel
// axis concatenates its inputs' channel spaces, so offsets follow automatically. A group is
// left whole (skipped, with the reason in the report) when the surgery cannot follow one of
// its channels: an unknown consumer op, a Reshape, a graph output exposing the channels, a
// grouped (non-depthwise) Conv, a non-constant weight, an elementwise operand
// that is not broadcast along channels, mismatched coupled segments. Keep count per group:
// C - round(ratio * C), rounded UP to a multiple of `round_to` when asked, capped at C,
// never below 1. A sliced initializer shared with other nodes (or reached through an
// Identity, as PyTorch writes deduplicated initializers) is copied for the edited node.
// Result: a smaller dense model that passes ir::Verify and runs in
// exec::Session. The same plan can instead be applied as zeros (the soft form used to
// check equivalence and as a fine-tuning mask): producer rows and biases, and the
// scale/B of every BatchNormalization and the filters/bias of every depthwise Conv on the
// path are zeroed, so a pruned channel is exactly 0 there.
//
// Statistics (stats.cc): MACs per layer for given input shapes (shapes from
// exec::Session::InferTypes), parameter count and bytes over all initializers, sparsity per
// prunable layer. Schedules (schedule.cc): one-shot, or AGP / polynomial (Zhu & Gupta
// 2017): s_t = s_f + (s_i - s_f)(1 - t/n)^p, p = 3. Sensitivity (sensitivity.cc): top-1
// accuracy (eval::EvaluateTop1) at each sparsity with only one layer pruned.
//
// Sparsities are fractions in [0, 1); anything else is INVALID_ARGUMENT naming the field.
// Thread-safety: none; functions take the model they rewrite by pointer.
#ifndef MP_WORKERS_ENGINE_PRUNE_PRUNE_H_
#define MP_WORKERS_ENGINE_PRUNE_PRUNE_H_

#include "workers/engine/prune/layers.h"       // IWYU pragma: export
#include "workers/engine/prune/masks.h"        // IWYU pragma: export
#include "workers/engine/prune/methods.h"      // IWYU pragma: export
#include "workers/engine/prune/schedule.h"     // IWYU pragma: export
#include "workers/engine/prune/sensitivity.h"  // IWYU pragma: export
#include "workers/engine/prune/stats.h"        // IWYU pragma: export
#include "workers/engine/prune/structured.h"   // IWYU pragma: export

#endif  // MP_WORKERS_ENGINE_PRUNE_PRUNE_H_
