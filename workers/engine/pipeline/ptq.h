// The ptq recipe: calibrated post-training int8 quantization of an ONNX model, with
// evaluation, per-layer diagnosis and an ONNX Runtime-ready QDQ artifact (DESIGN.md §5).
//
// Steps (each reported through JobContext): load -> calibrate -> quantize -> diagnose
// (per-tensor SQNR/MSE, per-layer sensitivity) -> [accuracy-aware fallback] -> evaluate
// fp32 and int8 -> latency -> export. Artifacts: "model" (model.int8.onnx) and "report"
// (report.json: options, per-layer table, metrics, fallback decisions, Highway target).
#ifndef MP_WORKERS_ENGINE_PIPELINE_PTQ_H_
#define MP_WORKERS_ENGINE_PIPELINE_PTQ_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/pipeline/job.h"

namespace mp::pipeline {

struct PtqOptions {
  std::filesystem::path model;        // fp32 ONNX model (required)
  std::filesystem::path calibration;  // samples: .npy / IDX(.gz) / TensorProto .pb (required)
  std::filesystem::path eval;         // optional evaluation samples (same formats)
  std::filesystem::path eval_labels;  // optional labels for `eval` (class ids)
  std::string calibrator = "minmax";  // "minmax", "percentile", "entropy", "mse"
  double percentile = 99.99;          // for "percentile", in (0, 100]
  std::string activation_scheme = "uint8_asymmetric";  // or "int8_symmetric"
  bool per_channel_weights = true;
  // "x86_avx2" | "x86_vnni" | "arm" | "" (the CPU running the recipe). x86_avx2 implies
  // 7-bit weights (reduce_range) so ONNX Runtime's saturating int16 path stays exact.
  std::string target;
  bool reduce_range = false;        // force 7-bit weights
  std::string mode = "static";      // "static", "dynamic", "fp16", "bf16"
  double max_accuracy_drop = 0;     // > 0: accuracy-aware fallback (fraction, 0.01 = 1 pt)
  int64_t calibration_samples = 0;  // 0: all
  int64_t eval_samples = 0;         // 0: all
  // Optional JSON file {"value": [lo, hi], ...}: these activation ranges replace the
  // calibrated ones (static mode), e.g. the ranges learned by quantization-aware training
  // (train/qat.h). Each [lo, hi] finite with lo <= hi; every name must be a float32 activation
  // of the model (one calibration observed), else INVALID_ARGUMENT naming the unknown values.
  std::filesystem::path fixed_ranges;
  std::vector<int64_t> latency_batches = {1, 64};
  bool sensitivity = true;  // per-layer sensitivity analysis
  uint64_t seed = 0;
};

// Validates `options` (INVALID_ARGUMENT naming the field) and runs the recipe.
absl::StatusOr<JobResult> RunPtq(const PtqOptions& options, JobContext& context);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_PTQ_H_
