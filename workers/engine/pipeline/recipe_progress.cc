#include "workers/engine/pipeline/recipe_progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "common/str_cat.h"

namespace mp::pipeline {
namespace {

using nlohmann::json;

}  // namespace

std::string Fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

Reporter::Reporter(JobContext& ctx) : ctx_(ctx), eta_(ctx.clock()) { eta_.Start(); }

absl::Status Reporter::Phase(std::string step, double lo, double hi) {
  step_ = std::move(step);
  lo_ = lo;
  hi_ = hi;
  return At(0.0, {}, "");
}

absl::Status Reporter::At(double f, std::vector<Metric> metrics, std::string log) {
  fraction_ = std::max(fraction_, lo_ + (hi_ - lo_) * std::clamp(f, 0.0, 1.0));
  last_nanos_ = ctx_.clock()->MonotonicNanos();
  return ctx_.Report({.fraction = fraction_,
                      .eta_seconds = eta_.Update(fraction_),
                      .step = step_,
                      .metrics = std::move(metrics),
                      .log = std::move(log)});
}

absl::Status Reporter::Step(double f) {
  if (ctx_.cancelled()) return absl::CancelledError("job cancelled");
  if (ctx_.clock()->MonotonicNanos() - last_nanos_ < 500'000'000) return absl::OkStatus();
  return At(f, {}, "");
}

json CurveJson(const std::vector<Epoch>& curve) {
  json out = json::array();
  for (size_t i = 0; i < curve.size(); ++i) {
    const Epoch& e = curve[i];
    json j = {{"epoch", i},
              {"loss", e.loss.total},
              {"kl", e.loss.kl},
              {"ce", e.loss.ce},
              {"feature", e.loss.feature},
              {"train_accuracy", e.train_accuracy},
              {"lr", e.lr},
              {"seconds", e.seconds},
              {"samples_per_second", e.samples_per_second}};
    j["eval_loss"] = e.val.has_value() ? json(e.val->loss) : json(nullptr);
    j["eval_accuracy"] = e.val.has_value() ? json(e.val->accuracy) : json(nullptr);
    out.push_back(j);
  }
  return out;
}

std::vector<Epoch> CurveOf(const distill::DistillResult& result) {
  std::vector<Epoch> curve;
  for (const distill::DistillEpochRecord& e : result.epochs) {
    curve.push_back({.loss = e.train,
                     .train_accuracy = e.accuracy,
                     .val = e.val,
                     .lr = e.last_lr,
                     .seconds = e.seconds,
                     .samples_per_second = e.samples_per_second});
  }
  return curve;
}

std::vector<Epoch> CurveOf(const train::FitResult& result) {
  std::vector<Epoch> curve;
  for (const train::EpochRecord& e : result.epochs) {
    curve.push_back(
        {.loss = {.total = e.train.loss, .ce = e.train.loss},
         .train_accuracy = e.train.accuracy,
         .val = e.val,
         .lr = e.last_lr,
         .seconds = e.seconds,
         .samples_per_second = e.seconds > 0 ? double(e.train.samples) / e.seconds : 0.0});
  }
  return curve;
}

distill::DistillProgress AsDistillProgress(const train::FitProgress& p) {
  return {.event = p.event,
          .epoch = p.epoch,
          .step = p.step,
          .total_steps = p.total_steps,
          .loss = {.total = p.loss, .ce = p.loss},
          .accuracy = p.accuracy,
          .lr = p.lr,
          .samples_per_second = p.samples_per_second,
          .val = p.val};
}

distill::DistillCallback EpochReporter(Reporter& rep, std::string what, int epochs,
                                       absl::Status* stopped) {
  return [&rep, what = std::move(what), epochs,
          stopped](const distill::DistillProgress& p) -> absl::Status {
    auto keep = [stopped](absl::Status s) {
      if (!s.ok() && stopped->ok()) *stopped = s;
      return s;
    };
    const double f = double(p.step) / double(std::max<int64_t>(1, p.total_steps));
    if (p.event == train::FitProgress::Event::kStep) return keep(rep.Step(f));
    std::vector<Metric> metrics = {{"epoch", double(p.epoch + 1)},
                                   {"loss", p.loss.total},
                                   {"kl", p.loss.kl},
                                   {"ce", p.loss.ce},
                                   {"train_accuracy", p.accuracy},
                                   {"lr", p.lr},
                                   {"samples_per_second", p.samples_per_second}};
    std::string line =
        StrCat(what, " epoch ", p.epoch + 1, "/", epochs, ": loss ", Fixed4(p.loss.total), " (kl ",
               Fixed4(p.loss.kl), ", ce ", Fixed4(p.loss.ce), ") acc ", Fixed4(p.accuracy));
    if (p.val.has_value()) {
      metrics.push_back({"eval_accuracy", p.val->accuracy});
      line += StrCat(" eval_acc ", Fixed4(p.val->accuracy));
    }
    line += StrCat(" lr ", p.lr, " ", std::llround(p.samples_per_second), " samples/s");
    return keep(rep.At(f, std::move(metrics), std::move(line)));
  };
}

}  // namespace mp::pipeline
