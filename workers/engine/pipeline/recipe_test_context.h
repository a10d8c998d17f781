// Test-only helpers for recipe tests (prune, compose, QAT): a JobContext that records every
// update, checks that fractions never decrease, and can cancel after a given number of
// updates; and the check that an int8 artifact runs the same here and in ONNX Runtime.
#ifndef MP_WORKERS_ENGINE_PIPELINE_RECIPE_TEST_CONTEXT_H_
#define MP_WORKERS_ENGINE_PIPELINE_RECIPE_TEST_CONTEXT_H_

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/job.h"

namespace mp::pipeline::testing {

class RecordingContext final : public JobContext {
 public:
  // cancel_after >= 0: Report() returns CANCELLED from update number cancel_after + 1 on
  // (counting from 1); cancel_step non-empty: from update number `step_updates` of that step
  // on (the first by default).
  explicit RecordingContext(std::filesystem::path dir, int cancel_after = -1,
                            std::string cancel_step = "", int step_updates = 1)
      : dir_(std::move(dir)),
        cancel_after_(cancel_after),
        cancel_step_(std::move(cancel_step)),
        step_updates_(step_updates) {}
  absl::Status Report(const ProgressUpdate& u) override {
    EXPECT_GE(u.fraction, last_fraction_) << u.step;
    EXPECT_LE(u.fraction, 1.0) << u.step;
    last_fraction_ = u.fraction;
    updates.push_back(u);
    if ((cancel_after_ >= 0 && static_cast<int>(updates.size()) > cancel_after_) ||
        (!cancel_step_.empty() && u.step == cancel_step_ && ++seen_ >= step_updates_)) {
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
  int step_updates_;
  int seen_ = 0;
  bool cancelled_ = false;
  double last_fraction_ = 0;
};

// tests/ort/run_ort.js when node and onnxruntime-node are installed, else "".
inline std::string OrtHarness() {
  const char* root = std::getenv("MP_SOURCE_DIR");
  const std::filesystem::path dir =
      std::filesystem::path(root != nullptr ? root : ".") / "tests/ort";
  if (!std::filesystem::exists(dir / "node_modules/onnxruntime-node")) return "";
  if (std::system("node --version > /dev/null 2>&1") != 0) return "";
  return (dir / "run_ort.js").string();
}

// Runs the int8 QDQ model at `path` on tests/fixtures/data/images_64.npy with our engine
// (fused integer path) and, when available, with ONNX Runtime (outputs written into
// `scratch`), and expects [64, 10] logits that agree: >= 63 equal top-1 and every logit
// within 2% of the largest. Returns false when ONNX Runtime is unavailable (the caller may
// GTEST_SKIP).
inline bool ExpectEngineAndOrtAgree(const std::filesystem::path& path,
                                    const std::filesystem::path& scratch) {
  auto model = onnx::ImportModelFile(path.string());
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return true;
  auto session = exec::Session::Create(*model, {.fuse_qdq = true});
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return true;
  const char* root = std::getenv("MP_SOURCE_DIR");
  const std::string images =
      std::string(root != nullptr ? root : ".") + "/tests/fixtures/data/images_64.npy";
  auto x = data::ReadNpy(images);
  EXPECT_TRUE(x.ok()) << x.status();
  if (!x.ok()) return true;
  auto ours = (*session)->Run({{"input", *x}});
  EXPECT_TRUE(ours.ok()) << ours.status();
  if (!ours.ok()) return true;
  const tensor::Tensor& y = (*ours)[0].second;
  EXPECT_EQ(y.shape(), (tensor::Shape{64, 10}));
  const std::string harness = OrtHarness();
  if (harness.empty()) return false;
  const std::string cmd = "node '" + harness + "' --model '" + path.string() + "' --input input='" +
                          images + "' --output-dir '" + scratch.string() + "' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto ort = data::ReadNpy((scratch / "logits.npy").string());
  EXPECT_TRUE(ort.ok()) << ort.status();
  if (!ort.ok() || ort->shape() != y.shape()) {
    ADD_FAILURE() << "ONNX Runtime output does not match [64, 10]";
    return true;
  }
  float max_abs = 0, max_diff = 0;
  int same_top1 = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const float* a = y.data<float>() + i * 10;
    const float* b = ort->data<float>() + i * 10;
    same_top1 += std::max_element(a, a + 10) - a == std::max_element(b, b + 10) - b ? 1 : 0;
    for (int j = 0; j < 10; ++j) {
      max_abs = std::max(max_abs, std::fabs(b[j]));
      max_diff = std::max(max_diff, std::fabs(a[j] - b[j]));
    }
  }
  EXPECT_GE(same_top1, 63);
  EXPECT_LE(max_diff, 0.02f * max_abs) << "max |logit| " << max_abs;
  return true;
}

}  // namespace mp::pipeline::testing

#endif  // MP_WORKERS_ENGINE_PIPELINE_RECIPE_TEST_CONTEXT_H_
