// `modelpress prune|distill|compose` in process against the fake services: flags -> spec
// fields, local files uploaded first, usage errors, --watch.
#include <gtest/gtest.h>

#include "client/cli_test_util.h"
#include "client/exit_codes.h"
#include "common/file_util.h"

namespace mp::client {
namespace {

using testing::Cli;
using testing::FakeServer;
namespace v1 = ::modelpress::v1;

class CompressCliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.Create("compress-cli-test-").ok()); }
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.path() + "/" + name;
    EXPECT_TRUE(AtomicWriteFile(path, bytes).ok());
    return path;
  }
  v1::SubmitJobRequest OnlySubmitted() {
    absl::MutexLock lock(&server_.jobs.mu);
    EXPECT_EQ(server_.jobs.submitted.size(), 1u);
    return server_.jobs.submitted.empty() ? v1::SubmitJobRequest() : server_.jobs.submitted[0];
  }
  size_t Submitted() {
    absl::MutexLock lock(&server_.jobs.mu);
    return server_.jobs.submitted.size();
  }
  FakeServer server_;
  ScopedTempDir dir_;
};

TEST_F(CompressCliTest, PruneUploadsLocalFilesAndCarriesEveryFlag) {
  const std::string model = Write("m.onnx", "model");
  const std::string train = Write("train.npy", "train");
  const std::string labels = Write("labels.npy", "labels");
  auto r = Cli(server_, {"prune",
                         model,
                         "--data",
                         train,
                         "--labels",
                         labels,
                         "--eval-data",
                         "data_00000000000000aa",
                         "--eval-labels",
                         "data_00000000000000bb",
                         "--limit",
                         "300",
                         "--method",
                         "magnitude",
                         "--sparsity",
                         "0.8",
                         "--scope",
                         "global",
                         "--per-layer",
                         "conv1=0.2",
                         "--exclude",
                         "fc3",
                         "--schedule",
                         "agp",
                         "--prune-steps",
                         "3",
                         "--recover",
                         "distill",
                         "--epochs",
                         "1",
                         "--batch-size",
                         "32",
                         "--lr",
                         "0.01",
                         "--optimizer",
                         "sgd",
                         "--alpha",
                         "0.5",
                         "--temperature",
                         "2",
                         "--skip-latency",
                         "--seed",
                         "11",
                         "--priority",
                         "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "job_00000000000000j1\n");
  EXPECT_NE(r.err.find("uploaded " + train + " as data_"), std::string::npos) << r.err;
  const v1::SubmitJobRequest s = OnlySubmitted();
  EXPECT_EQ(s.priority(), 2);
  EXPECT_EQ(s.spec().kind(), v1::JOB_KIND_PRUNE);
  EXPECT_EQ(s.spec().seed(), 11u);
  EXPECT_EQ(s.spec().model_id(), "model_0000000000000001");
  const v1::PruneSpec& p = s.spec().prune();
  EXPECT_EQ(p.train_dataset_id(), "data_0000000000000001");  // uploads in flag order
  EXPECT_EQ(p.train_labels_dataset_id(), "data_0000000000000002");
  EXPECT_EQ(p.eval_dataset_id(), "data_00000000000000aa");
  EXPECT_EQ(p.eval_labels_dataset_id(), "data_00000000000000bb");
  EXPECT_EQ(p.limit(), 300);
  EXPECT_EQ(p.method(), "magnitude");
  EXPECT_EQ(p.sparsity(), 0.8);
  EXPECT_EQ(p.scope(), "global");
  ASSERT_EQ(p.per_layer_size(), 1);
  EXPECT_EQ(p.per_layer(0), "conv1=0.2");
  ASSERT_EQ(p.exclude_size(), 1);
  EXPECT_EQ(p.exclude(0), "fc3");
  EXPECT_EQ(p.schedule(), "agp");
  EXPECT_EQ(p.prune_steps(), 3);
  EXPECT_EQ(p.recover(), "distill");
  EXPECT_EQ(p.epochs(), 1);
  EXPECT_EQ(p.batch_size(), 32);
  EXPECT_EQ(p.lr(), 0.01);
  EXPECT_EQ(p.optimizer(), "sgd");
  EXPECT_EQ(p.alpha(), 0.5);
  EXPECT_EQ(p.temperature(), 2);
  EXPECT_TRUE(p.skip_latency());
  EXPECT_EQ(p.norm(), "");  // unset flags leave the documented default
  EXPECT_EQ(p.holdout(), 0);
}

TEST_F(CompressCliTest, PruneUsageErrors) {
  EXPECT_EQ(Cli(server_, {"prune"}).code, kExitUsage);
  EXPECT_EQ(Cli(server_, {"prune", "model_0000000000000001", "--method", "random"}).code,
            kExitUsage);
  EXPECT_EQ(Cli(server_, {"prune", "model_0000000000000001", "--epochs", "0"}).code, kExitUsage);
  auto r = Cli(server_, {"prune", "model_0000000000000001", "--labels", "data_0000000000000002"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--labels needs --data"), std::string::npos) << r.err;
  r = Cli(server_, {"prune", "model_0000000000000001", "--data", dir_.path() + "/nope.npy"});
  EXPECT_EQ(r.code, kExitNotFound);
  EXPECT_NE(r.err.find("--data: data file '"), std::string::npos) << r.err;
  EXPECT_EQ(Submitted(), 0u);
}

TEST_F(CompressCliTest, DistillStudentModelIsUploadedAndOptionsCarried) {
  const std::string student = Write("student.onnx", "student");
  auto r = Cli(server_, {"distill", "model_00000000000000a1", "--student", student, "--data",
                         "data_0000000000000011", "--labels", "data_0000000000000012", "--holdout",
                         "0.2", "--epochs", "2", "--baseline", "--alpha", "0.9"});
  ASSERT_EQ(r.code, 0) << r.err;
  const v1::SubmitJobRequest s = OnlySubmitted();
  EXPECT_EQ(s.spec().kind(), v1::JOB_KIND_DISTILL);
  EXPECT_EQ(s.spec().model_id(), "model_00000000000000a1");
  const v1::DistillSpec& d = s.spec().distill();
  EXPECT_EQ(d.student_model_id(), "model_0000000000000001");  // uploaded
  EXPECT_EQ(d.student(), "");                                 // implied "model"
  EXPECT_EQ(d.train_dataset_id(), "data_0000000000000011");
  EXPECT_EQ(d.train_labels_dataset_id(), "data_0000000000000012");
  EXPECT_EQ(d.holdout(), 0.2);
  EXPECT_EQ(d.epochs(), 2);
  EXPECT_TRUE(d.baseline());
  EXPECT_EQ(d.alpha(), 0.9);

  r = Cli(server_, {"distill", "model_00000000000000a1", "--keep-weights", "--student-width",
                    "0.25", "--data", "data_0000000000000011", "--labels", "data_0000000000000012",
                    "--feature", "relu1=relu1@0.5", "--feature", "relu2=r2"});
  ASSERT_EQ(r.code, 0) << r.err;
  absl::MutexLock lock(&server_.jobs.mu);
  ASSERT_EQ(server_.jobs.submitted.size(), 2u);
  const v1::DistillSpec& pruned = server_.jobs.submitted[1].spec().distill();
  EXPECT_EQ(pruned.student(), "pruned");
  EXPECT_EQ(pruned.width(), 0.25);
  EXPECT_TRUE(pruned.student_model_id().empty());
  ASSERT_EQ(pruned.features_size(), 2);
  EXPECT_EQ(pruned.features(0).teacher_value(), "relu1");
  EXPECT_EQ(pruned.features(0).student_value(), "relu1");
  EXPECT_EQ(pruned.features(0).weight(), 0.5);
  EXPECT_EQ(pruned.features(1).student_value(), "r2");
  EXPECT_EQ(pruned.features(1).weight(), 0);  // the default
}

TEST_F(CompressCliTest, DistillNeedsTrainingData) {
  EXPECT_EQ(Cli(server_, {"distill", "model_00000000000000a1"}).code, kExitUsage);
  EXPECT_EQ(Cli(server_, {"distill", "model_00000000000000a1", "--data", "data_0000000000000011",
                          "--student-width"})
                .code,
            kExitUsage);
  EXPECT_EQ(Submitted(), 0u);
}

TEST_F(CompressCliTest, ComposeCarriesNestedPruneAndPtqFlags) {
  const std::string calib = Write("calib.npy", "calib");
  auto r = Cli(server_, {"compose",
                         "model_00000000000000a1",
                         "--data",
                         "data_0000000000000011",
                         "--labels",
                         "data_0000000000000012",
                         "--calib",
                         calib,
                         "--eval-data",
                         "data_0000000000000013",
                         "--eval-labels",
                         "data_0000000000000014",
                         "--sparsity",
                         "0.3",
                         "--recover",
                         "finetune",
                         "--epochs",
                         "1",
                         "--calibrator",
                         "entropy",
                         "--calibration-samples",
                         "128",
                         "--latency-batch",
                         "1",
                         "--skip-sensitivity"});
  ASSERT_EQ(r.code, 0) << r.err;
  const v1::SubmitJobRequest s = OnlySubmitted();
  EXPECT_EQ(s.spec().kind(), v1::JOB_KIND_COMPOSE);
  const v1::ComposeSpec& c = s.spec().compose();
  EXPECT_EQ(c.train_dataset_id(), "data_0000000000000011");
  EXPECT_EQ(c.calibration_dataset_id(), "data_0000000000000001");  // uploaded
  EXPECT_EQ(c.eval_labels_dataset_id(), "data_0000000000000014");
  EXPECT_EQ(c.prune().sparsity(), 0.3);
  EXPECT_EQ(c.prune().recover(), "finetune");
  EXPECT_EQ(c.prune().epochs(), 1);
  EXPECT_TRUE(c.prune().train_dataset_id().empty());  // the data live in ComposeSpec
  EXPECT_EQ(c.ptq().calibrator(), "entropy");
  EXPECT_EQ(c.ptq().calibration_samples(), 128);
  ASSERT_EQ(c.ptq().latency_batches_size(), 1);
  EXPECT_TRUE(c.ptq().skip_sensitivity());
  EXPECT_TRUE(c.ptq().calibration_dataset_id().empty());
}

// --alpha 0 is sent as an explicit 0 (proto3 optional), no --alpha leaves it unset (0.7).
TEST_F(CompressCliTest, AlphaZeroIsSentAndUnsetIsNot) {
  const std::vector<std::string> distill = {"distill",  "model_00000000000000a1",
                                            "--data",   "data_0000000000000011",
                                            "--labels", "data_0000000000000012"};
  ASSERT_EQ(Cli(server_, distill).code, 0);
  std::vector<std::string> alpha0 = distill;
  alpha0.insert(alpha0.end(), {"--alpha", "0"});
  ASSERT_EQ(Cli(server_, alpha0).code, 0);
  auto r =
      Cli(server_, {"prune", "model_0000000000000001", "--data", "data_0000000000000011",
                    "--labels", "data_0000000000000012", "--recover", "distill", "--alpha", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&server_.jobs.mu);
    ASSERT_EQ(server_.jobs.submitted.size(), 3u);
    EXPECT_FALSE(server_.jobs.submitted[0].spec().distill().has_alpha());
    EXPECT_TRUE(server_.jobs.submitted[1].spec().distill().has_alpha());
    EXPECT_EQ(server_.jobs.submitted[1].spec().distill().alpha(), 0);
    EXPECT_TRUE(server_.jobs.submitted[2].spec().prune().has_alpha());
    EXPECT_EQ(server_.jobs.submitted[2].spec().prune().alpha(), 0);
  }
  std::vector<std::string> bad = distill;
  bad.insert(bad.end(), {"--alpha", "1.5"});
  r = Cli(server_, bad);
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--alpha"), std::string::npos) << r.err;
  EXPECT_EQ(Submitted(), 3u);
}

TEST_F(CompressCliTest, QatFlags) {
  auto r = Cli(server_, {"distill", "model_00000000000000a1", "--data", "data_0000000000000011",
                         "--labels", "data_0000000000000012", "--qat-epochs", "2", "--qat-lr",
                         "0.0001", "--qat-target", "x86_vnni"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Cli(server_,
          {"compose", "model_00000000000000a1", "--data", "data_0000000000000011", "--labels",
           "data_0000000000000012", "--target", "arm", "--qat-epochs", "1", "--qat-lr", "0.00005"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&server_.jobs.mu);
    ASSERT_EQ(server_.jobs.submitted.size(), 2u);
    const v1::DistillSpec& d = server_.jobs.submitted[0].spec().distill();
    EXPECT_EQ(d.qat_epochs(), 2);
    EXPECT_EQ(d.qat_lr(), 0.0001);
    EXPECT_EQ(d.qat_target(), "x86_vnni");
    const v1::ComposeSpec& c = server_.jobs.submitted[1].spec().compose();
    EXPECT_EQ(c.qat_epochs(), 1);
    EXPECT_EQ(c.qat_lr(), 0.00005);
    EXPECT_EQ(c.ptq().target(), "arm");
  }
  // Bad values are usage errors naming the flag; compose has no --qat-target (QAT uses
  // --target).
  const std::vector<std::string> base = {"distill",  "model_00000000000000a1",
                                         "--data",   "data_0000000000000011",
                                         "--labels", "data_0000000000000012"};
  for (const std::vector<std::string>& extra : std::vector<std::vector<std::string>>{
           {"--qat-epochs", "-1"}, {"--qat-epochs", "x"}, {"--qat-target", "riscv"}}) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    r = Cli(server_, args);
    EXPECT_EQ(r.code, kExitUsage) << extra[0] << " " << extra[1];
    EXPECT_NE(r.err.find(extra[0]), std::string::npos) << r.err;
  }
  r = Cli(server_, {"compose", "model_00000000000000a1", "--qat-target", "arm"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(Submitted(), 2u);
}

TEST_F(CompressCliTest, WatchFollowsTheJobToItsEnd) {
  {
    absl::MutexLock lock(&server_.jobs.mu);
    v1::JobEvent running;
    running.set_sequence(1);
    running.set_state(v1::JOB_STATE_RUNNING);
    running.set_progress(0.5);
    running.set_step("recover");
    v1::JobEvent done = running;
    done.set_sequence(2);
    done.set_state(v1::JOB_STATE_FAILED);
    done.set_progress(1);
    server_.jobs.events["job_00000000000000j1"] = {running, done};
    v1::Job job;
    job.set_id("job_00000000000000j1");
    job.mutable_spec()->set_kind(v1::JOB_KIND_PRUNE);
    job.set_state(v1::JOB_STATE_FAILED);
    job.set_error("prune.sparsity: 1.5 is not in [0, 1)");
    server_.jobs.jobs[job.id()] = job;
  }
  auto r = Cli(server_, {"prune", "model_0000000000000001", "--watch"});
  EXPECT_EQ(r.code, kExitJobFailed) << r.err;
  EXPECT_NE((r.out + r.err).find("prune.sparsity"), std::string::npos) << r.out << r.err;
  absl::MutexLock lock(&server_.jobs.mu);
  ASSERT_EQ(server_.jobs.watch_requests.size(), 1u);
  EXPECT_EQ(server_.jobs.watch_requests[0].id(), "job_00000000000000j1");
}

}  // namespace
}  // namespace mp::client
