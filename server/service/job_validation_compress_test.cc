// ValidatePruneOptions / ValidateDistillOptions / ValidateComposeOptions: defaults and
// documented values pass; each bad field fails with INVALID_ARGUMENT naming it.
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/job_validation.h"

namespace mp::service {
namespace {

namespace v1 = ::modelpress::v1;
using ::testing::HasSubstr;

constexpr char kTrain[] = "data_0000000000000001";
constexpr char kLabels[] = "data_0000000000000002";
constexpr char kEval[] = "data_0000000000000003";
constexpr char kEvalLabels[] = "data_0000000000000004";

void ExpectInvalid(const absl::Status& status, const std::string& text) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text << ": " << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(text));
}

v1::PruneSpec Prune() {
  v1::PruneSpec p;
  p.set_train_dataset_id(kTrain);
  p.set_train_labels_dataset_id(kLabels);
  p.set_recover("finetune");
  return p;
}

// Applies `edit` to a valid PruneSpec and expects the error to contain `text`.
void ExpectPruneInvalid(const std::function<void(v1::PruneSpec&)>& edit, const std::string& text) {
  v1::PruneSpec p = Prune();
  edit(p);
  ExpectInvalid(ValidatePruneOptions(p), text);
}

TEST(ValidatePruneOptionsTest, AcceptsDefaultsAndDocumentedValues) {
  EXPECT_TRUE(ValidatePruneOptions(v1::PruneSpec()).ok());  // pruning only, no data
  v1::PruneSpec p = Prune();
  EXPECT_TRUE(ValidatePruneOptions(p).ok()) << ValidatePruneOptions(p);
  p.set_method("nm");
  p.set_nm("2:4");
  p.set_recover("distill");
  p.set_alpha(0.5);
  p.set_temperature(2);
  p.set_epochs(1);
  p.set_batch_size(32);
  p.set_lr(0.01);
  p.set_optimizer("sgd");
  p.set_weight_decay(1e-4);
  p.set_limit(300);
  p.set_holdout(0.2);
  p.add_per_layer("conv1=0.25");
  p.add_exclude("fc3");
  p.set_latency_iterations(5);
  p.set_schedule("agp");
  p.set_prune_steps(3);
  EXPECT_TRUE(ValidatePruneOptions(p).ok()) << ValidatePruneOptions(p);
  v1::PruneSpec eval_only;
  eval_only.set_eval_dataset_id(kEval);
  eval_only.set_eval_labels_dataset_id(kEvalLabels);
  eval_only.set_method("magnitude");
  eval_only.set_scope("global");
  eval_only.set_sparsity(0.9);
  EXPECT_TRUE(ValidatePruneOptions(eval_only).ok()) << ValidatePruneOptions(eval_only);
}

TEST(ValidatePruneOptionsTest, NamesTheBadField) {
  v1::PruneSpec p = Prune();
  p.set_sparsity(1.5);
  EXPECT_EQ(std::string(ValidatePruneOptions(p).message()),
            "spec.prune.sparsity: must be in [0, 1), got 1.5");
  ExpectPruneInvalid([](auto& s) { s.set_sparsity(-0.1); }, "spec.prune.sparsity");
  ExpectPruneInvalid([](auto& s) { s.set_method("random"); }, "spec.prune.method");
  ExpectPruneInvalid([](auto& s) { s.set_norm("l3"); }, "spec.prune.norm");
  ExpectPruneInvalid([](auto& s) { s.set_scope("model"); }, "spec.prune.scope");
  ExpectPruneInvalid([](auto& s) { s.add_per_layer("conv1"); }, "spec.prune.per_layer[0]");
  ExpectPruneInvalid([](auto& s) { s.add_per_layer("conv1=x"); }, "spec.prune.per_layer[0]");
  ExpectPruneInvalid(
      [](auto& s) {
        s.add_per_layer("a=0.5");
        s.add_per_layer("conv1=1");
      },
      "spec.prune.per_layer[1]");
  ExpectPruneInvalid([](auto& s) { s.set_nm("4:2"); }, "spec.prune.nm");
  ExpectPruneInvalid([](auto& s) { s.set_nm("2:4x"); }, "spec.prune.nm");
  ExpectPruneInvalid([](auto& s) { s.set_round_to(-1); }, "spec.prune.round_to");
  ExpectPruneInvalid([](auto& s) { s.set_recover("retrain"); }, "spec.prune.recover");
  ExpectPruneInvalid([](auto& s) { s.set_epochs(-1); }, "spec.prune.epochs");
  ExpectPruneInvalid([](auto& s) { s.set_batch_size(-8); }, "spec.prune.batch_size");
  ExpectPruneInvalid([](auto& s) { s.set_lr(-1e-3); }, "spec.prune.lr");
  ExpectPruneInvalid([](auto& s) { s.set_lr(std::nan("")); }, "spec.prune.lr");
  ExpectPruneInvalid([](auto& s) { s.set_weight_decay(-1); }, "spec.prune.weight_decay");
  ExpectPruneInvalid([](auto& s) { s.set_alpha(1.5); }, "spec.prune.alpha");
  ExpectPruneInvalid([](auto& s) { s.set_temperature(-4); }, "spec.prune.temperature");
  ExpectPruneInvalid([](auto& s) { s.set_optimizer("lion"); }, "spec.prune.optimizer");
  ExpectPruneInvalid([](auto& s) { s.set_latency_iterations(-1); },
                     "spec.prune.latency_iterations");
  ExpectPruneInvalid([](auto& s) { s.set_limit(-1); }, "spec.prune.limit");
  ExpectPruneInvalid([](auto& s) { s.set_schedule("linear"); }, "spec.prune.schedule");
  ExpectPruneInvalid([](auto& s) { s.set_prune_steps(3); },
                     "spec.prune.prune_steps: only used with schedule 'agp'");
  ExpectPruneInvalid(
      [](auto& s) {
        s.set_schedule("agp");
        s.set_prune_steps(-2);
      },
      "spec.prune.prune_steps");
  ExpectPruneInvalid(
      [](auto& s) {
        s.set_schedule("agp");
        s.set_recover("none");
      },
      "spec.prune.schedule: 'agp' needs recover");
  ExpectPruneInvalid([](auto& s) { s.set_holdout(1); }, "spec.prune.holdout");
}

TEST(ValidatePruneOptionsTest, DatasetsComeInPairsAndRecoveryNeedsTrainingData) {
  ExpectPruneInvalid([](auto& s) { s.clear_train_dataset_id(); },
                     "spec.prune.train_labels_dataset_id: needs train_dataset_id");
  ExpectPruneInvalid([](auto& s) { s.clear_train_labels_dataset_id(); },
                     "spec.prune.train_labels_dataset_id: required");
  ExpectPruneInvalid(
      [](auto& s) {
        s.clear_train_dataset_id();
        s.clear_train_labels_dataset_id();
      },
      "spec.prune.train_dataset_id: required for recover 'finetune'");
  ExpectPruneInvalid([](auto& s) { s.set_eval_labels_dataset_id(kEvalLabels); },
                     "spec.prune.eval_labels_dataset_id");
  ExpectPruneInvalid(
      [](auto& s) {
        s.set_eval_dataset_id(kEval);
        s.set_holdout(0.1);
      },
      "spec.prune.holdout: only used without eval_dataset_id");
  v1::PruneSpec p;  // recover none: no training data, so neither limit nor holdout
  p.set_holdout(0.1);
  ExpectInvalid(ValidatePruneOptions(p), "spec.prune.holdout: needs train_dataset_id");
  p.clear_holdout();
  p.set_limit(10);
  ExpectInvalid(ValidatePruneOptions(p), "spec.prune.limit: needs train_dataset_id");
}

v1::DistillSpec Distill() {
  v1::DistillSpec d;
  d.set_train_dataset_id(kTrain);
  d.set_train_labels_dataset_id(kLabels);
  return d;
}

TEST(ValidateDistillOptionsTest, AcceptsDefaultsAndStudentSources) {
  EXPECT_TRUE(ValidateDistillOptions(Distill()).ok());  // student "width" 0.5 by default
  v1::DistillSpec d = Distill();
  d.set_student_model_id("model_0123456789abcdef");  // student "model" implied
  d.set_alpha(1);
  d.set_epochs(2);
  EXPECT_TRUE(ValidateDistillOptions(d).ok()) << ValidateDistillOptions(d);
  d = Distill();
  d.set_student("pruned");
  d.set_width(0.25);
  d.set_baseline(true);
  v1::DistillFeaturePair* f = d.add_features();
  f->set_teacher_value("relu1");
  f->set_student_value("relu1");
  f->set_weight(0.5);
  EXPECT_TRUE(ValidateDistillOptions(d).ok()) << ValidateDistillOptions(d);
}

TEST(ValidateDistillOptionsTest, NamesTheBadField) {
  v1::DistillSpec d = Distill();
  d.set_student("model");
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.student_model_id: required");
  d = Distill();
  d.set_student("width");
  d.set_student_model_id("model_0123456789abcdef");
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.student_model_id: only used");
  d = Distill();
  d.set_student("clone");
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.student");
  d = Distill();
  d.set_width(1.5);
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.width");
  d = Distill();
  d.set_student_model_id("model_0123456789abcdef");
  d.set_width(0.5);
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.width: only used");
  d = Distill();
  d.set_temperature(std::numeric_limits<double>::infinity());
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.temperature");
  d = Distill();
  d.set_epochs(100000);
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.epochs");
  d = Distill();
  d.add_features()->set_teacher_value("relu1");
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.features[0]");
  d.mutable_features(0)->set_student_value("relu1");
  d.mutable_features(0)->set_weight(-1);
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.features[0].weight");
  d = Distill();
  d.clear_train_dataset_id();
  d.clear_train_labels_dataset_id();
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.train_dataset_id: required");
  d = Distill();
  d.clear_train_labels_dataset_id();
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.train_labels_dataset_id");
}

v1::ComposeSpec Compose() {
  v1::ComposeSpec c;
  c.set_train_dataset_id(kTrain);
  c.set_train_labels_dataset_id(kLabels);
  c.set_eval_dataset_id(kEval);
  c.set_eval_labels_dataset_id(kEvalLabels);
  return c;
}

TEST(ValidateComposeOptionsTest, AcceptsDefaultsAndNestedOptions) {
  EXPECT_TRUE(ValidateComposeOptions(Compose()).ok()) << ValidateComposeOptions(Compose());
  v1::ComposeSpec c = Compose();
  c.set_calibration_dataset_id("data_0000000000000005");
  c.mutable_prune()->set_sparsity(0.3);
  c.mutable_prune()->set_epochs(1);
  c.mutable_ptq()->set_calibrator("percentile");
  c.mutable_ptq()->set_percentile(99.9);
  c.mutable_ptq()->set_max_accuracy_drop(0.01);
  EXPECT_TRUE(ValidateComposeOptions(c).ok()) << ValidateComposeOptions(c);
  v1::ComposeSpec prune_only;  // recover none, calibration only
  prune_only.mutable_prune()->set_recover("none");
  prune_only.set_calibration_dataset_id("data_0000000000000005");
  EXPECT_TRUE(ValidateComposeOptions(prune_only).ok()) << ValidateComposeOptions(prune_only);
}

TEST(ValidateComposeOptionsTest, NamesTheBadField) {
  v1::ComposeSpec c = Compose();
  c.mutable_prune()->set_sparsity(2);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.prune.sparsity: must be in [0, 1)");
  c = Compose();
  c.mutable_ptq()->set_calibrator("magic");
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.ptq.calibrator");
  c = Compose();
  c.mutable_prune()->set_train_dataset_id(kTrain);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.prune.train_dataset_id: must be unset");
  c = Compose();
  c.mutable_prune()->set_holdout(0.1);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.prune.limit/holdout");
  c = Compose();
  c.mutable_ptq()->set_calibration_dataset_id(kTrain);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.ptq.calibration_dataset_id");
  c = Compose();
  c.mutable_ptq()->set_eval_dataset_id(kEval);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.ptq.eval_dataset_id");
  c = Compose();  // recover defaults to distill: training data required
  c.clear_train_dataset_id();
  c.clear_train_labels_dataset_id();
  ExpectInvalid(ValidateComposeOptions(c),
                "spec.compose.train_dataset_id: required for recover 'distill'");
  c.mutable_prune()->set_recover("none");  // ... and then calibration data
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.calibration_dataset_id: required");
  c = Compose();
  c.clear_eval_labels_dataset_id();
  c.mutable_ptq()->set_max_accuracy_drop(0.01);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.ptq.max_accuracy_drop");
}

// alpha is optional: unset means 0.7, an explicit 0 (CE only) and 1 are valid, 1.5 is not.
TEST(ValidateAlphaTest, UnsetZeroAndOneAreValidOutsideTheRangeIsNot) {
  v1::DistillSpec d = Distill();
  EXPECT_FALSE(d.has_alpha());
  EXPECT_TRUE(ValidateDistillOptions(d).ok());
  d.set_alpha(0);
  EXPECT_TRUE(d.has_alpha());
  EXPECT_TRUE(ValidateDistillOptions(d).ok()) << ValidateDistillOptions(d);
  d.set_alpha(1);
  EXPECT_TRUE(ValidateDistillOptions(d).ok()) << ValidateDistillOptions(d);
  d.set_alpha(1.5);
  EXPECT_EQ(std::string(ValidateDistillOptions(d).message()),
            "spec.distill.alpha: must be in [0, 1], got 1.5");
  d.set_alpha(-0.1);
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.alpha: must be in [0, 1]");
  d.set_alpha(std::nan(""));
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.alpha");

  v1::PruneSpec p = Prune();
  p.set_recover("distill");
  EXPECT_TRUE(ValidatePruneOptions(p).ok());
  p.set_alpha(0);
  EXPECT_TRUE(ValidatePruneOptions(p).ok()) << ValidatePruneOptions(p);
  ExpectPruneInvalid([](auto& s) { s.set_alpha(-1); }, "spec.prune.alpha: must be in [0, 1]");
  v1::ComposeSpec c = Compose();
  c.mutable_prune()->set_alpha(0);
  EXPECT_TRUE(ValidateComposeOptions(c).ok()) << ValidateComposeOptions(c);
  c.mutable_prune()->set_alpha(1.5);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.prune.alpha: must be in [0, 1]");
}

TEST(ValidateDistillOptionsTest, QatOptions) {
  v1::DistillSpec d = Distill();
  d.set_qat_epochs(2);
  EXPECT_TRUE(ValidateDistillOptions(d).ok()) << ValidateDistillOptions(d);
  d.set_qat_lr(1e-4);
  for (const char* target : {"x86_avx2", "x86_vnni", "arm"}) {
    d.set_qat_target(target);
    EXPECT_TRUE(ValidateDistillOptions(d).ok()) << target << ": " << ValidateDistillOptions(d);
  }
  d = Distill();
  d.set_qat_epochs(-1);
  EXPECT_EQ(std::string(ValidateDistillOptions(d).message()),
            "spec.distill.qat_epochs: must be in [0, 1000], got -1");
  d.set_qat_epochs(1001);
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.qat_epochs");
  d = Distill();
  d.set_qat_epochs(1);
  d.set_qat_lr(-1);
  EXPECT_EQ(std::string(ValidateDistillOptions(d).message()),
            "spec.distill.qat_lr: must be finite and >= 0, got -1");
  d.set_qat_lr(std::numeric_limits<double>::infinity());
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.qat_lr");
  d.set_qat_lr(0);
  d.set_qat_target("riscv");
  ExpectInvalid(ValidateDistillOptions(d),
                "spec.distill.qat_target: unknown value 'riscv' (expected one of 'x86_avx2', "
                "'x86_vnni', 'arm')");
  d = Distill();  // the QAT options without QAT are a mistake, not silently ignored
  d.set_qat_lr(1e-4);
  ExpectInvalid(ValidateDistillOptions(d), "spec.distill.qat_lr: only used with qat_epochs > 0");
  d = Distill();
  d.set_qat_target("arm");
  ExpectInvalid(ValidateDistillOptions(d),
                "spec.distill.qat_target: only used with qat_epochs > 0");
}

TEST(ValidateComposeOptionsTest, QatOptions) {
  v1::ComposeSpec c = Compose();
  c.set_qat_epochs(1);
  c.set_qat_lr(1e-4);
  c.mutable_ptq()->set_target("x86_avx2");
  EXPECT_TRUE(ValidateComposeOptions(c).ok()) << ValidateComposeOptions(c);
  c.mutable_prune()->set_recover("finetune");
  EXPECT_TRUE(ValidateComposeOptions(c).ok()) << ValidateComposeOptions(c);
  c = Compose();
  c.set_qat_epochs(-2);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.qat_epochs: must be in [0, 1000]");
  c = Compose();
  c.set_qat_epochs(1);
  c.set_qat_lr(-1);
  EXPECT_EQ(std::string(ValidateComposeOptions(c).message()),
            "spec.compose.qat_lr: must be finite and >= 0, got -1");
  c = Compose();
  c.set_qat_lr(1e-4);
  ExpectInvalid(ValidateComposeOptions(c), "spec.compose.qat_lr: only used with qat_epochs > 0");
  c = Compose();
  c.set_qat_epochs(1);
  c.mutable_ptq()->set_mode("dynamic");
  ExpectInvalid(ValidateComposeOptions(c),
                "spec.compose.qat_epochs: needs ptq mode 'static' (int8 QDQ), not 'dynamic'");
  v1::ComposeSpec no_training;  // recover none from calibration data alone: nothing to train on
  no_training.mutable_prune()->set_recover("none");
  no_training.set_calibration_dataset_id("data_0000000000000005");
  no_training.set_qat_epochs(1);
  ExpectInvalid(ValidateComposeOptions(no_training),
                "spec.compose.qat_epochs: needs train_dataset_id");
}

}  // namespace
}  // namespace mp::service
