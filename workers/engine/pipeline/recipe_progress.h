// Progress and per-epoch curves of the training recipes (distill, compose's QAT part): a
// Reporter mapping a phase's own fraction into the job's, the per-epoch record of a training
// curve, and the DistillCallback that turns distill::Distill / train::Fit progress into
// JobContext updates.
#ifndef MP_WORKERS_ENGINE_PIPELINE_RECIPE_PROGRESS_H_
#define MP_WORKERS_ENGINE_PIPELINE_RECIPE_PROGRESS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "workers/engine/distill/distill.h"
#include "workers/engine/pipeline/job.h"
#include "workers/engine/train/fit.h"

namespace mp::pipeline {

// Reports progress as fractions of the phase [lo, hi) of the whole job (never decreasing,
// with an ETA); per-step updates are rate-limited to two a second, epoch updates always go
// out.
class Reporter {
 public:
  explicit Reporter(JobContext& ctx);
  // Starts phase `step` covering [lo, hi) of the job and reports its start.
  absl::Status Phase(std::string step, double lo, double hi);
  // Reports fraction `f` (0..1) of the current phase.
  absl::Status At(double f, std::vector<Metric> metrics, std::string log);
  // A training step: CANCELLED once the job is cancelled; a progress update at most every
  // half second.
  absl::Status Step(double f);

 private:
  JobContext& ctx_;
  EtaEstimator eta_;
  std::string step_;
  double lo_ = 0, hi_ = 0, fraction_ = 0;
  int64_t last_nanos_ = 0;
};

// "%.4f".
std::string Fixed4(double v);

// One epoch of a training curve.
struct Epoch {
  distill::LossParts loss;  // cross-entropy training: total = ce
  double train_accuracy = 0;
  std::optional<train::EvalMetrics> val;
  float lr = 0;
  double seconds = 0;
  double samples_per_second = 0;
};

// [{epoch, loss, kl, ce, feature, train_accuracy, eval_loss, eval_accuracy, lr, seconds,
//   samples_per_second}] (eval_* null without evaluation data).
nlohmann::json CurveJson(const std::vector<Epoch>& curve);

// The curve of a distillation run, and of a cross-entropy run (loss = ce).
std::vector<Epoch> CurveOf(const distill::DistillResult& result);
std::vector<Epoch> CurveOf(const train::FitResult& result);

// A cross-entropy run's progress in distillation terms (loss.total = loss.ce = p.loss).
distill::DistillProgress AsDistillProgress(const train::FitProgress& p);

// The progress callback of a training phase named `what` ("distill", "qat", ...) of `epochs`
// epochs: steps -> Reporter::Step (cancellation), epochs -> one update with the epoch's
// metrics (epoch, loss, kl, ce, train_accuracy, lr, samples_per_second, eval_accuracy) and a
// log line. The first error it returns is kept in *stopped (the trainer turns it into
// CANCELLED; callers return *stopped instead when it is set).
distill::DistillCallback EpochReporter(Reporter& rep, std::string what, int epochs,
                                       absl::Status* stopped);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_RECIPE_PROGRESS_H_
