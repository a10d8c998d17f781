// Test-only JobContext for recipe tests (prune, compose): records every update, checks that
// fractions never decrease, and can cancel after a given number of updates.
#ifndef MP_WORKERS_ENGINE_PIPELINE_RECIPE_TEST_CONTEXT_H_
#define MP_WORKERS_ENGINE_PIPELINE_RECIPE_TEST_CONTEXT_H_

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "workers/engine/pipeline/job.h"

namespace mp::pipeline::testing {

class RecordingContext final : public JobContext {
 public:
  // cancel_after >= 0: Report() returns CANCELLED from update number cancel_after + 1 on
  // (counting from 1); cancel_step non-empty: from the first update of that step on.
  explicit RecordingContext(std::filesystem::path dir, int cancel_after = -1,
                            std::string cancel_step = "")
      : dir_(std::move(dir)), cancel_after_(cancel_after), cancel_step_(std::move(cancel_step)) {}
  absl::Status Report(const ProgressUpdate& u) override {
    EXPECT_GE(u.fraction, last_fraction_) << u.step;
    EXPECT_LE(u.fraction, 1.0) << u.step;
    last_fraction_ = u.fraction;
    updates.push_back(u);
    if ((cancel_after_ >= 0 && static_cast<int>(updates.size()) > cancel_after_) ||
        (!cancel_step_.empty() && u.step == cancel_step_)) {
      cancelled_ = true;
    }
    return cancelled_ ? absl::CancelledError("cancelled by the test") : absl::OkStatus();
  }
  bool cancelled() const override { return cancelled_; }
  const std::filesystem::path& work_dir() const override { return dir_; }
  int num_threads() const override { return 2; }
  Clock* clock() const override { return SystemClock::Get(); }
  double last_fraction() const { return last_fraction_; }

  std::vector<ProgressUpdate> updates;

 private:
  std::filesystem::path dir_;
  int cancel_after_;
  std::string cancel_step_;
  bool cancelled_ = false;
  double last_fraction_ = 0;
};

}  // namespace mp::pipeline::testing

#endif  // MP_WORKERS_ENGINE_PIPELINE_RECIPE_TEST_CONTEXT_H_
