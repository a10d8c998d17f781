// The quantization-aware training step of the distill and compose recipes (train/qat.h):
//
//   folded = Session(fp32).model(), nodes named          (the graph pipeline/ptq quantizes)
//   cal    = quant::Calibrate(folded, calibration)        -> calibrated ranges
//   ptq    = QuantizeStatic(folded, cal.ranges)            (the plain-PTQ comparison)
//   qat    = InsertFakeQuant(folded, cal.ranges, quantizer)
//   train qat.model for `training.epochs` epochs: distill::Distill from `teacher` (alpha, T)
//     when given, else train::Fit with cross-entropy; optimizer at training.lr, cosine
//     schedule over the run, batches of training.batch_size in the order of training.seed
//   trained, learned = RemoveFakeQuant(exported)
//   ranges = cal.ranges overwritten by learned
//   int8   = QuantizeStatic(trained, ranges, quantizer)
//
// With keep_zeros, weights (of the fake-quantized layers) that are exactly zero before
// training are reset to +0 after every optimizer step, so unstructured / N:M sparsity survives
// QAT. Progress: `progress` as distill::Distill calls it (cross-entropy runs are reported in
// its terms, see recipe_progress.h AsDistillProgress); a non-OK return stops training
// (CANCELLED). Deterministic for the seed (any thread count).
#ifndef MP_WORKERS_ENGINE_PIPELINE_QAT_STEP_H_
#define MP_WORKERS_ENGINE_PIPELINE_QAT_STEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset.h"
#include "workers/engine/distill/distill.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/pipeline/recipe_fit.h"
#include "workers/engine/pipeline/recipe_progress.h"
#include "workers/engine/quant/quant.h"

namespace mp::pipeline {

struct QatStepOptions {
  quant::QuantizerOptions quantizer;    // as QuantizeStatic will run (scheme, reduce_range...)
  quant::CalibratorOptions calibrator;  // how `calibration` becomes the initial ranges
  RecipeTraining training;              // epochs (>= 1), lr, optimizer, batches, seed, threads
  std::string input_name = "input";     // the graph input fed with the samples
  const ir::Model* teacher = nullptr;   // non-null: distillation loss, else cross-entropy
  float alpha = 0.7f;                   // distillation: KL weight
  float temperature = 4.0f;             // distillation: softmax temperature
  bool keep_zeros = false;              // keep exact zeros of the weights (masked pruning)
  Clock* clock = nullptr;               // samples/s; null = the system clock
};

struct QatStepResult {
  ir::Model folded;            // the input as quantized: session graph, nodes named
  quant::RangeMap calibrated;  // calibrated ranges of `folded`
  quant::QuantizeResult ptq;   // QuantizeStatic(folded, calibrated): PTQ without QAT
  ir::Model trained;           // fp32 after QAT (fake quantization removed)
  quant::RangeMap learned;     // trained ranges of the fake-quantized activations
  quant::RangeMap ranges;      // calibrated, overwritten by learned
  quant::QuantizeResult int8;  // QuantizeStatic(trained, ranges): the QAT int8 model
  std::vector<Epoch> curve;    // one per QAT epoch (eval_* = the fake-quantized model)
  int64_t calibration_samples = 0;
};

// Runs the step on `fp32` (any fp32 model the engine runs; one input). `train` must be
// labelled (and `eval`, may be null); `calibration` non-empty. Errors: those of Calibrate,
// InsertFakeQuant, the trainers (INVALID_ARGUMENT for options, CANCELLED from `progress`)
// and QuantizeStatic, annotated "qat".
absl::StatusOr<QatStepResult> RunQatStep(const ir::Model& fp32, const data::Dataset& train,
                                         const data::Dataset* eval,
                                         const data::Dataset& calibration,
                                         const QatStepOptions& options,
                                         const distill::DistillCallback& progress = {});

// The report section of a QAT step: {options {epochs, lr, optimizer, batch_size,
// weight_decay, seed, schedule, loss ("distill" | "cross_entropy"), alpha and temperature
// (distill), keep_zeros, calibration_samples, calibrator, activation_scheme,
// per_channel_weights, reduce_range}, target {name, detected}, learned_ranges,
// quantized_layers, curve}.
nlohmann::json QatReportJson(const QatStepOptions& options, const QatStepResult& result,
                             const quant::Target& target);

// {"value": [lo, hi], ...} sorted by name (the PtqOptions::fixed_ranges format).
nlohmann::json RangesJson(const quant::RangeMap& ranges);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_QAT_STEP_H_
