// PRUNE, DISTILL and COMPOSE jobs through the lease loop against the in-process fake
// WorkerService, on the real recipes (lenet, 64 Fashion-MNIST samples, 1 epoch).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "common/file_util.h"
#include "nlohmann/json.hpp"
#include "workers/runtime/fake_worker_service_test_util.h"
#include "workers/runtime/runtime.h"

namespace mp::runtime {
namespace {

using testing::FakeServer;
using testing::FakeWorkerService;
using testing::FastWorkerOptions;
namespace v1 = ::modelpress::v1;

std::string Source(const std::string& rel) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return std::string(root ? root : ".") + "/" + rel;
}

std::string Bytes(const std::string& rel) {
  absl::StatusOr<std::string> bytes = ReadFile(Source(rel));
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

std::map<std::string, double> Metrics(const v1::CompleteJobRequest& c) {
  std::map<std::string, double> m;
  for (const auto& metric : c.metrics()) m[metric.name()] = metric.value();
  return m;
}

std::map<std::string, v1::BlobRef> Artifacts(const v1::CompleteJobRequest& c) {
  std::map<std::string, v1::BlobRef> a;
  for (const auto& artifact : c.artifacts()) a[artifact.name()] = artifact.blob();
  return a;
}

class WorkerCompressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(work_.Create("worker-compress-test-").ok());
    model_ = service_.AddBlob(Bytes("tests/fixtures/models/lenet.onnx"));
    images_ = service_.AddBlob(Bytes("tests/fixtures/data/images_64.npy"));
    labels_ = service_.AddBlob(Bytes("tests/fixtures/data/labels_64.npy"));
  }

  WorkerOptions Options() {
    WorkerOptions o = FastWorkerOptions("worker_0000000000000002", work_.path(), &clock_);
    o.once = true;
    o.hard_exit = [](int) {};
    return o;
  }

  // Runs one leased job with DefaultRecipes().
  void RunOne(const std::string& job_id, const v1::JobSpec& spec,
              std::map<std::string, v1::BlobRef> inputs) {
    service_.AddLease(job_id, spec, std::move(inputs), /*ttl_ms=*/60'000);
    Worker worker(server_.Channel(), Options(), DefaultRecipes());
    ASSERT_TRUE(worker.Run().ok());
    EXPECT_TRUE(std::filesystem::is_empty(std::filesystem::path(work_.path())));
  }

  // The one job the service saw completed (fails the test if a job failed instead).
  void OnlyCompleted(v1::CompleteJobRequest* out) {
    absl::MutexLock lock(&service_.mu);
    ASSERT_TRUE(service_.failed.empty()) << service_.failed[0].error();
    ASSERT_EQ(service_.completed.size(), 1u);
    *out = service_.completed[0];
  }

  std::string Blob(const v1::BlobRef& ref) {
    absl::MutexLock lock(&service_.mu);
    auto it = service_.blobs.find(ref.sha256());
    return it == service_.blobs.end() ? "" : it->second;
  }

  // Fractions reported for the job never decrease.
  void ExpectMonotoneProgress() {
    absl::MutexLock lock(&service_.mu);
    ASSERT_FALSE(service_.progress.empty());
    double last = 0;
    for (const v1::ReportProgressRequest& p : service_.progress) {
      EXPECT_GE(p.progress(), last) << p.step();
      last = p.progress();
    }
    EXPECT_GT(last, 0.9);
  }

  SystemClock clock_;
  FakeWorkerService service_{&clock_};
  FakeServer server_{&service_};
  ScopedTempDir work_;
  v1::BlobRef model_, images_, labels_;
};

// A job on model_; the specs below train on images_/labels_ with a quarter held out.
v1::JobSpec TrainingJobSpec(v1::JobKind kind, uint64_t seed) {
  v1::JobSpec spec;
  spec.set_kind(kind);
  spec.set_model_id("model_0123456789abcdef");
  spec.set_seed(seed);
  return spec;
}

// The training data every spec below uses: images and labels, a quarter held out.
template <typename Spec>
Spec* WithTrainingData(Spec* spec) {
  spec->set_train_dataset_id("data_0000000000000001");
  spec->set_train_labels_dataset_id("data_0000000000000002");
  spec->set_holdout(0.25);
  return spec;
}

v1::JobSpec DistillSpec(uint64_t seed) {
  v1::JobSpec spec = TrainingJobSpec(v1::JOB_KIND_DISTILL, seed);
  WithTrainingData(spec.mutable_distill());
  return spec;
}

v1::JobSpec ComposeSpec(uint64_t seed) {
  v1::JobSpec spec = TrainingJobSpec(v1::JOB_KIND_COMPOSE, seed);
  v1::ComposeSpec* c = WithTrainingData(spec.mutable_compose());
  c->mutable_prune()->set_epochs(1);
  c->mutable_prune()->set_batch_size(16);
  c->mutable_prune()->set_skip_latency(true);
  c->mutable_ptq()->set_skip_sensitivity(true);
  c->mutable_ptq()->add_latency_batches(1);
  return spec;
}

v1::JobSpec PruneSpec() {
  v1::JobSpec spec = TrainingJobSpec(v1::JOB_KIND_PRUNE, 3);
  v1::PruneSpec* p = WithTrainingData(spec.mutable_prune());
  p->set_recover("finetune");
  p->set_epochs(1);
  p->set_batch_size(16);
  p->set_skip_latency(true);
  return spec;
}

TEST_F(WorkerCompressTest, PruneJobRunsTheRecipeAndUploadsItsArtifacts) {
  RunOne("job_00000000000000c1", PruneSpec(),
         {{"model", model_}, {"train", images_}, {"train_labels", labels_}});
  v1::CompleteJobRequest c;
  ASSERT_NO_FATAL_FAILURE(OnlyCompleted(&c));
  const std::map<std::string, double> m = Metrics(c);
  ASSERT_TRUE(m.count("macs_before") && m.count("macs_after")) << c.DebugString();
  EXPECT_LT(m.at("macs_after"), m.at("macs_before"));  // structured 0.5 removes channels
  ASSERT_TRUE(m.count("accuracy_after"));              // 16 held-out labelled samples
  EXPECT_GE(m.at("accuracy_after"), 0.0);
  EXPECT_LE(m.at("accuracy_after"), 1.0);
  const std::map<std::string, v1::BlobRef> a = Artifacts(c);
  ASSERT_TRUE(a.count("model") && a.count("report"));
  const std::string model = Blob(a.at("model"));
  EXPECT_GT(model.size(), 1000u);
  EXPECT_LT(model.size(), Bytes("tests/fixtures/models/lenet.onnx").size());
  const nlohmann::json report = nlohmann::json::parse(Blob(a.at("report")), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["options"]["recover"], "finetune");
  EXPECT_EQ(report["curve"].size(), 1u);
  ExpectMonotoneProgress();
}

TEST_F(WorkerCompressTest, CancelledPruneJobStopsWithoutCompleting) {
  {
    absl::MutexLock lock(&service_.mu);
    service_.cancelled.insert("job_00000000000000c2");
  }
  RunOne("job_00000000000000c2", PruneSpec(),
         {{"model", model_}, {"train", images_}, {"train_labels", labels_}});
  absl::MutexLock lock(&service_.mu);
  EXPECT_TRUE(service_.completed.empty());
  EXPECT_TRUE(service_.failed.empty());  // the server already recorded CANCELLED
}

TEST_F(WorkerCompressTest, BadOptionFailsForGoodNamingIt) {
  v1::JobSpec spec = PruneSpec();
  spec.mutable_prune()->set_sparsity(1.5);  // the service would have refused it
  RunOne("job_00000000000000c3", spec,
         {{"model", model_}, {"train", images_}, {"train_labels", labels_}});
  absl::MutexLock lock(&service_.mu);
  EXPECT_TRUE(service_.completed.empty());
  ASSERT_EQ(service_.failed.size(), 1u);
  EXPECT_FALSE(service_.failed[0].retryable());
  EXPECT_NE(service_.failed[0].error().find("sparsity"), std::string::npos)
      << service_.failed[0].error();
}

TEST_F(WorkerCompressTest, DistillJobTrainsANarrowerStudent) {
  v1::JobSpec spec = DistillSpec(5);
  v1::DistillSpec* d = spec.mutable_distill();
  d->set_student("width");
  d->set_width(0.5);
  d->set_epochs(1);
  d->set_batch_size(16);
  d->set_skip_latency(true);
  d->set_alpha(0);  // explicit 0: labels only (unset would be 0.7)
  RunOne("job_00000000000000c4", spec,
         {{"model", model_}, {"train", images_}, {"train_labels", labels_}});
  v1::CompleteJobRequest c;
  ASSERT_NO_FATAL_FAILURE(OnlyCompleted(&c));
  const std::map<std::string, double> m = Metrics(c);
  ASSERT_TRUE(m.count("student_parameters") && m.count("teacher_parameters"));
  EXPECT_LT(m.at("student_parameters"), m.at("teacher_parameters"));
  const std::map<std::string, v1::BlobRef> a = Artifacts(c);
  ASSERT_TRUE(a.count("model") && a.count("report"));
  EXPECT_FALSE(a.count("int8_model"));  // no QAT asked for
  EXPECT_GT(Blob(a.at("model")).size(), 1000u);
  const nlohmann::json report = nlohmann::json::parse(Blob(a.at("report")), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["options"]["alpha"], 0.0);  // the explicit 0 reached the recipe
  ExpectMonotoneProgress();
}

TEST_F(WorkerCompressTest, ComposeJobYieldsInt8AndPrunedModels) {
  v1::JobSpec spec = ComposeSpec(7);
  RunOne("job_00000000000000c5", spec,
         {{"model", model_}, {"train", images_}, {"train_labels", labels_}});
  v1::CompleteJobRequest done;
  ASSERT_NO_FATAL_FAILURE(OnlyCompleted(&done));
  const std::map<std::string, v1::BlobRef> a = Artifacts(done);
  ASSERT_TRUE(a.count("model") && a.count("pruned_model") && a.count("report"));
  EXPECT_NE(Blob(a.at("model")).find("QuantizeLinear"), std::string::npos);
  const std::map<std::string, double> m = Metrics(done);
  ASSERT_TRUE(m.count("model_bytes_int8") && m.count("model_bytes_fp32"));
  EXPECT_LT(m.at("model_bytes_int8"), m.at("model_bytes_fp32"));
  ExpectMonotoneProgress();
}

// qat_epochs > 0: the distill recipe also writes the int8 student; the worker uploads it as
// "int8_model" (with "ranges"), which `modelpress download --artifact int8_model` fetches.
TEST_F(WorkerCompressTest, DistillJobWithQatUploadsTheInt8Student) {
  v1::JobSpec spec = DistillSpec(6);
  v1::DistillSpec* d = spec.mutable_distill();
  d->set_student("pruned");
  d->set_width(0.5);
  d->set_epochs(1);
  d->set_batch_size(16);
  d->set_skip_latency(true);
  d->set_qat_epochs(1);
  d->set_qat_lr(1e-4);
  d->set_qat_target("x86_avx2");
  RunOne("job_00000000000000c6", spec,
         {{"model", model_}, {"train", images_}, {"train_labels", labels_}});
  v1::CompleteJobRequest c;
  ASSERT_NO_FATAL_FAILURE(OnlyCompleted(&c));
  const std::map<std::string, v1::BlobRef> a = Artifacts(c);
  ASSERT_TRUE(a.count("model") && a.count("report") && a.count("int8_model") && a.count("ranges"))
      << c.DebugString();
  const std::string int8 = Blob(a.at("int8_model"));
  EXPECT_NE(int8.find("QuantizeLinear"), std::string::npos);
  EXPECT_EQ(a.at("int8_model").size_bytes(), static_cast<int64_t>(int8.size()));
  const nlohmann::json ranges = nlohmann::json::parse(Blob(a.at("ranges")), nullptr, false);
  ASSERT_FALSE(ranges.is_discarded());
  EXPECT_FALSE(ranges.empty());
  const std::map<std::string, double> m = Metrics(c);
  ASSERT_TRUE(m.count("student_accuracy_int8") && m.count("student_accuracy_int8_ptq") &&
              m.count("int8_model_bytes"))
      << c.DebugString();
  EXPECT_EQ(m.at("int8_model_bytes"), static_cast<double>(int8.size()));
  EXPECT_GE(m.at("student_accuracy_int8"), 0.0);
  EXPECT_LE(m.at("student_accuracy_int8"), 1.0);
  const nlohmann::json report = nlohmann::json::parse(Blob(a.at("report")), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["options"]["qat_epochs"], 1);
  ExpectMonotoneProgress();
}

TEST_F(WorkerCompressTest, ComposeJobWithQatReportsPlainPtqForComparison) {
  v1::JobSpec spec = ComposeSpec(8);
  v1::ComposeSpec* c = spec.mutable_compose();
  c->set_qat_epochs(1);
  RunOne("job_00000000000000c7", spec,
         {{"model", model_}, {"train", images_}, {"train_labels", labels_}});
  v1::CompleteJobRequest done;
  ASSERT_NO_FATAL_FAILURE(OnlyCompleted(&done));
  const std::map<std::string, v1::BlobRef> a = Artifacts(done);
  ASSERT_TRUE(a.count("model") && a.count("pruned_model") && a.count("report"));
  EXPECT_NE(Blob(a.at("model")).find("QuantizeLinear"), std::string::npos);
  const std::map<std::string, double> m = Metrics(done);
  ASSERT_TRUE(m.count("accuracy_int8") && m.count("accuracy_int8_ptq")) << done.DebugString();
  const nlohmann::json report = nlohmann::json::parse(Blob(a.at("report")), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["options"]["qat_epochs"], 1);
  ExpectMonotoneProgress();
}

}  // namespace
}  // namespace mp::runtime
