#include "workers/runtime/convert_compress.h"

#include <gtest/gtest.h>

namespace mp::runtime {
namespace {

namespace v1 = ::modelpress::v1;

const InputFiles kFiles = {{"model", "/j/model.onnx"},
                           {"train", "/j/train.npy"},
                           {"train_labels", "/j/labels.npy"},
                           {"eval", "/j/eval.npy"},
                           {"eval_labels", "/j/eval_labels.npy"},
                           {"calibration", "/j/calib.npy"},
                           {"student", "/j/student.onnx"}};

TEST(ConvertCompressTest, EmptyPruneSpecMeansTheRecipeDefaults) {
  auto o = PruneOptionsFromProto(v1::PruneSpec(), 42, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  const pipeline::PruneRecipeOptions defaults;
  EXPECT_EQ(o->model, "/j/model.onnx");
  EXPECT_TRUE(o->data.empty());  // not named by the spec
  EXPECT_TRUE(o->eval_data.empty());
  EXPECT_EQ(o->limit, 0);
  EXPECT_EQ(o->holdout, 0);
  EXPECT_EQ(o->recipe.method, defaults.method);
  EXPECT_EQ(o->recipe.sparsity, defaults.sparsity);
  EXPECT_EQ(o->recipe.recover, "none");
  EXPECT_EQ(o->recipe.schedule, defaults.schedule);
  EXPECT_EQ(o->recipe.epochs, defaults.epochs);
  EXPECT_EQ(o->recipe.batch_size, defaults.batch_size);
  EXPECT_EQ(o->recipe.lr, defaults.lr);
  EXPECT_EQ(o->recipe.alpha, defaults.alpha);
  EXPECT_EQ(o->recipe.temperature, defaults.temperature);
  EXPECT_TRUE(o->recipe.eval_each_epoch);
  EXPECT_EQ(o->recipe.latency_iterations, defaults.latency_iterations);
  EXPECT_EQ(o->recipe.seed, 42u);
}

TEST(ConvertCompressTest, EveryPruneFieldIsCarried) {
  v1::PruneSpec s;
  s.set_train_dataset_id("data_0000000000000001");
  s.set_train_labels_dataset_id("data_0000000000000002");
  s.set_eval_dataset_id("data_0000000000000003");
  s.set_eval_labels_dataset_id("data_0000000000000004");
  s.set_limit(300);
  s.set_holdout(0.25);
  s.set_method("magnitude");
  s.set_sparsity(0.75);
  s.set_norm("l2");
  s.set_scope("global");
  s.add_per_layer("conv1=0.1");
  s.add_exclude("fc3");
  s.set_nm("1:4");
  s.set_round_to(8);
  s.set_schedule("agp");
  s.set_prune_steps(3);
  s.set_recover("distill");
  s.set_epochs(1);
  s.set_batch_size(32);
  s.set_lr(0.01);
  s.set_optimizer("sgd");
  s.set_weight_decay(0.001);
  s.set_alpha(0.5);
  s.set_temperature(2);
  s.set_skip_epoch_eval(true);
  s.set_latency_iterations(7);
  auto o = PruneOptionsFromProto(s, 1, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->data, "/j/train.npy");
  EXPECT_EQ(o->labels, "/j/labels.npy");
  EXPECT_EQ(o->eval_data, "/j/eval.npy");
  EXPECT_EQ(o->eval_labels, "/j/eval_labels.npy");
  EXPECT_EQ(o->limit, 300);
  EXPECT_EQ(o->holdout, 0.25);
  const pipeline::PruneRecipeOptions& r = o->recipe;
  EXPECT_EQ(r.method, "magnitude");
  EXPECT_EQ(r.sparsity, 0.75);
  EXPECT_EQ(r.norm, "l2");
  EXPECT_EQ(r.scope, "global");
  EXPECT_EQ(r.per_layer, std::vector<std::string>{"conv1=0.1"});
  EXPECT_EQ(r.exclude, std::vector<std::string>{"fc3"});
  EXPECT_EQ(r.nm, "1:4");
  EXPECT_EQ(r.round_to, 8);
  EXPECT_EQ(r.schedule, "agp");
  EXPECT_EQ(r.prune_steps, 3);
  EXPECT_EQ(r.recover, "distill");
  EXPECT_EQ(r.epochs, 1);
  EXPECT_EQ(r.batch_size, 32);
  EXPECT_FLOAT_EQ(r.lr, 0.01f);
  EXPECT_EQ(r.optimizer, "sgd");
  EXPECT_FLOAT_EQ(r.weight_decay, 0.001f);
  EXPECT_FLOAT_EQ(r.alpha, 0.5f);
  EXPECT_FLOAT_EQ(r.temperature, 2.0f);
  EXPECT_FALSE(r.eval_each_epoch);
  EXPECT_EQ(r.latency_iterations, 7);
  s.set_skip_latency(true);
  o = PruneOptionsFromProto(s, 1, kFiles);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->recipe.latency_iterations, 0);
}

TEST(ConvertCompressTest, MissingInputsAndNegativeCountsAreErrors) {
  v1::PruneSpec s;
  s.set_train_dataset_id("data_0000000000000001");
  InputFiles files = {{"model", "/j/model.onnx"}};
  auto o = PruneOptionsFromProto(s, 1, files);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(o.status().message()).find("prune.train_dataset_id"), std::string::npos);
  o = PruneOptionsFromProto(v1::PruneSpec(), 1, {});
  EXPECT_EQ(o.status().code(), absl::StatusCode::kFailedPrecondition);
  v1::PruneSpec negative;
  negative.set_epochs(-1);
  o = PruneOptionsFromProto(negative, 1, kFiles);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(o.status().message()).find("prune.epochs"), std::string::npos);
  v1::DistillSpec d;
  d.set_student_model_id("model_0000000000000001");
  auto od = DistillOptionsFromProto(d, 1, files);
  EXPECT_EQ(od.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(od.status().message()).find("'student'"), std::string::npos);
}

TEST(ConvertCompressTest, DistillStudentSourceAndFields) {
  v1::DistillSpec s;
  s.set_train_dataset_id("data_0000000000000001");
  s.set_train_labels_dataset_id("data_0000000000000002");
  auto o = DistillOptionsFromProto(s, 9, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  const pipeline::DistillRecipeOptions defaults;
  EXPECT_EQ(o->teacher, "/j/model.onnx");
  EXPECT_TRUE(o->student.empty());
  EXPECT_EQ(o->recipe.student, defaults.student);
  EXPECT_EQ(o->recipe.width, defaults.width);
  EXPECT_EQ(o->recipe.epochs, defaults.epochs);
  EXPECT_EQ(o->recipe.seed, 9u);

  s.set_student_model_id("model_0000000000000001");  // student "model" implied
  s.set_alpha(0.9);
  s.set_temperature(3);
  s.set_epochs(4);
  s.set_batch_size(16);
  s.set_lr(0.002);
  s.set_optimizer("adamw");
  s.set_weight_decay(0.01);
  s.set_baseline(true);
  s.set_skip_latency(true);
  s.set_limit(100);
  s.set_holdout(0.1);
  v1::DistillFeaturePair* f = s.add_features();
  f->set_teacher_value("t1");
  f->set_student_value("s1");
  o = DistillOptionsFromProto(s, 9, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->student, "/j/student.onnx");
  EXPECT_EQ(o->data, "/j/train.npy");
  EXPECT_EQ(o->labels, "/j/labels.npy");
  EXPECT_EQ(o->limit, 100);
  EXPECT_EQ(o->holdout, 0.1);
  const pipeline::DistillRecipeOptions& r = o->recipe;
  EXPECT_EQ(r.student, "model");
  EXPECT_FLOAT_EQ(r.alpha, 0.9f);
  EXPECT_FLOAT_EQ(r.temperature, 3.0f);
  EXPECT_EQ(r.epochs, 4);
  EXPECT_EQ(r.batch_size, 16);
  EXPECT_FLOAT_EQ(r.lr, 0.002f);
  EXPECT_EQ(r.optimizer, "adamw");
  EXPECT_FLOAT_EQ(r.weight_decay, 0.01f);
  EXPECT_TRUE(r.baseline);
  EXPECT_EQ(r.latency_iterations, 0);
  ASSERT_EQ(r.features.size(), 1u);
  EXPECT_EQ(r.features[0].teacher_value, "t1");
  EXPECT_EQ(r.features[0].student_value, "s1");
  EXPECT_EQ(r.features[0].weight, 1.0f);  // 0: the default

  v1::DistillSpec pruned = s;
  pruned.clear_student_model_id();
  pruned.set_student("pruned");
  pruned.set_width(0.25);
  o = DistillOptionsFromProto(pruned, 9, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->recipe.student, "pruned");
  EXPECT_EQ(o->recipe.width, 0.25);
  EXPECT_TRUE(o->student.empty());
}

TEST(ConvertCompressTest, ComposeKeepsItsOwnDefaultsAndNestedOptions) {
  v1::ComposeSpec s;
  s.set_train_dataset_id("data_0000000000000001");
  s.set_train_labels_dataset_id("data_0000000000000002");
  auto o = ComposeOptionsFromProto(s, 5, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  const pipeline::ComposeJobOptions defaults;
  EXPECT_EQ(o->model, "/j/model.onnx");
  EXPECT_EQ(o->data, "/j/train.npy");
  EXPECT_TRUE(o->calibration.empty());  // the recipe uses the training data
  EXPECT_EQ(o->prune.recover, "distill");
  EXPECT_EQ(o->prune.seed, 5u);
  EXPECT_EQ(o->ptq.calibration_samples, defaults.ptq.calibration_samples);
  EXPECT_EQ(o->ptq.calibrator, defaults.ptq.calibrator);
  EXPECT_TRUE(o->ptq.model.empty());  // filled by the recipe
  EXPECT_EQ(o->ptq.seed, 5u);

  s.set_calibration_dataset_id("data_0000000000000005");
  s.set_eval_dataset_id("data_0000000000000003");
  s.mutable_prune()->set_recover("finetune");
  s.mutable_prune()->set_sparsity(0.3);
  s.mutable_ptq()->set_calibrator("entropy");
  s.mutable_ptq()->set_calibration_samples(64);
  s.mutable_ptq()->add_latency_batches(4);
  o = ComposeOptionsFromProto(s, 5, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->calibration, "/j/calib.npy");
  EXPECT_EQ(o->eval_data, "/j/eval.npy");
  EXPECT_EQ(o->prune.recover, "finetune");
  EXPECT_EQ(o->prune.sparsity, 0.3);
  EXPECT_EQ(o->ptq.calibrator, "entropy");
  EXPECT_EQ(o->ptq.calibration_samples, 64);
  EXPECT_EQ(o->ptq.latency_batches, std::vector<int64_t>{4});

  s.mutable_prune()->set_round_to(-2);
  o = ComposeOptionsFromProto(s, 5, kFiles);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(o.status().message()).find("compose.prune.round_to"), std::string::npos);
}

// alpha is proto3 optional: unset keeps the recipe's default (0.7), an explicit 0 reaches the
// recipe as 0 (prune, distill and compose's prune alike).
TEST(ConvertCompressTest, AlphaUnsetIsTheDefaultAndZeroIsZero) {
  const pipeline::DistillRecipeOptions distill_defaults;
  ASSERT_FLOAT_EQ(distill_defaults.alpha, 0.7f);
  v1::DistillSpec d;
  d.set_train_dataset_id("data_0000000000000001");
  d.set_train_labels_dataset_id("data_0000000000000002");
  auto od = DistillOptionsFromProto(d, 1, kFiles);
  ASSERT_TRUE(od.ok()) << od.status();
  EXPECT_FLOAT_EQ(od->recipe.alpha, 0.7f);
  d.set_alpha(0);
  od = DistillOptionsFromProto(d, 1, kFiles);
  ASSERT_TRUE(od.ok()) << od.status();
  EXPECT_EQ(od->recipe.alpha, 0.0f);
  d.set_alpha(1);
  od = DistillOptionsFromProto(d, 1, kFiles);
  ASSERT_TRUE(od.ok()) << od.status();
  EXPECT_EQ(od->recipe.alpha, 1.0f);

  const pipeline::PruneRecipeOptions prune_defaults;
  v1::PruneSpec p;
  auto op = PruneOptionsFromProto(p, 1, kFiles);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_FLOAT_EQ(op->recipe.alpha, prune_defaults.alpha);
  p.set_alpha(0);
  op = PruneOptionsFromProto(p, 1, kFiles);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->recipe.alpha, 0.0f);

  v1::ComposeSpec c;
  c.set_train_dataset_id("data_0000000000000001");
  c.set_train_labels_dataset_id("data_0000000000000002");
  auto oc = ComposeOptionsFromProto(c, 1, kFiles);
  ASSERT_TRUE(oc.ok()) << oc.status();
  EXPECT_FLOAT_EQ(oc->prune.alpha, prune_defaults.alpha);
  c.mutable_prune()->set_alpha(0);
  oc = ComposeOptionsFromProto(c, 1, kFiles);
  ASSERT_TRUE(oc.ok()) << oc.status();
  EXPECT_EQ(oc->prune.alpha, 0.0f);
}

TEST(ConvertCompressTest, QatFieldsAreCarried) {
  v1::DistillSpec d;
  d.set_train_dataset_id("data_0000000000000001");
  d.set_train_labels_dataset_id("data_0000000000000002");
  auto od = DistillOptionsFromProto(d, 1, kFiles);
  ASSERT_TRUE(od.ok()) << od.status();
  EXPECT_EQ(od->recipe.qat_epochs, 0);  // no QAT by default
  EXPECT_EQ(od->recipe.qat_lr, 0.0f);
  EXPECT_EQ(od->recipe.qat_target, "");
  d.set_qat_epochs(3);
  d.set_qat_lr(2e-4);
  d.set_qat_target("x86_avx2");
  od = DistillOptionsFromProto(d, 1, kFiles);
  ASSERT_TRUE(od.ok()) << od.status();
  EXPECT_EQ(od->recipe.qat_epochs, 3);
  EXPECT_FLOAT_EQ(od->recipe.qat_lr, 2e-4f);
  EXPECT_EQ(od->recipe.qat_target, "x86_avx2");
  d.set_qat_epochs(-1);
  od = DistillOptionsFromProto(d, 1, kFiles);
  EXPECT_EQ(od.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(od.status().message()).find("distill.qat_epochs"), std::string::npos);

  v1::ComposeSpec c;
  c.set_train_dataset_id("data_0000000000000001");
  c.set_train_labels_dataset_id("data_0000000000000002");
  auto oc = ComposeOptionsFromProto(c, 1, kFiles);
  ASSERT_TRUE(oc.ok()) << oc.status();
  EXPECT_EQ(oc->qat_epochs, 0);
  EXPECT_EQ(oc->qat_lr, 0.0f);
  c.set_qat_epochs(2);
  c.set_qat_lr(5e-5);
  c.mutable_ptq()->set_target("arm");
  oc = ComposeOptionsFromProto(c, 1, kFiles);
  ASSERT_TRUE(oc.ok()) << oc.status();
  EXPECT_EQ(oc->qat_epochs, 2);
  EXPECT_FLOAT_EQ(oc->qat_lr, 5e-5f);
  EXPECT_EQ(oc->ptq.target, "arm");  // the target QAT trains for
  c.set_qat_epochs(-4);
  oc = ComposeOptionsFromProto(c, 1, kFiles);
  EXPECT_EQ(oc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(oc.status().message()).find("compose.qat_epochs"), std::string::npos);
}

}  // namespace
}  // namespace mp::runtime
