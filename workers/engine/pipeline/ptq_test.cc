// The ptq recipe end to end on the LeNet fixture and its 64 test images, and its errors.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "common/file_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/npy.h"
#include "workers/engine/exec/exec_test_util.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/ptq.h"
#include "workers/engine/quant/quant.h"
#include "workers/engine/train/qat.h"

namespace mp::pipeline {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

class TestContext final : public JobContext {
 public:
  explicit TestContext(std::filesystem::path dir, int cancel_after = -1)
      : dir_(std::move(dir)), cancel_after_(cancel_after) {}
  absl::Status Report(const ProgressUpdate& u) override {
    EXPECT_GE(u.fraction, last_fraction_) << u.step;
    last_fraction_ = u.fraction;
    steps.push_back(u.step);
    if (cancel_after_ >= 0 && static_cast<int>(steps.size()) > cancel_after_) {
      return absl::CancelledError("cancelled");
    }
    return absl::OkStatus();
  }
  bool cancelled() const override { return false; }
  const std::filesystem::path& work_dir() const override { return dir_; }
  int num_threads() const override { return 2; }
  Clock* clock() const override { return SystemClock::Get(); }
  std::vector<std::string> steps;

 private:
  std::filesystem::path dir_;
  int cancel_after_;
  double last_fraction_ = 0;
};

class PtqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* root = std::getenv("MP_SOURCE_DIR");
    ASSERT_NE(root, nullptr);
    fixtures_ = std::filesystem::path(root) / "tests/fixtures";
    auto dir = MakeTempDir("ptq_test");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
  }
  void TearDown() override { (void)RemoveAll(dir_.string()); }

  PtqOptions LenetOptions() {
    PtqOptions o;
    o.model = fixtures_ / "models/lenet.onnx";
    o.calibration = fixtures_ / "data/images_64.npy";
    o.eval = fixtures_ / "data/images_64.npy";
    o.eval_labels = fixtures_ / "data/labels_64.npy";
    o.latency_batches = {1};
    return o;
  }
  std::filesystem::path WriteNpy(const std::string& name, const Tensor& t) {
    const std::filesystem::path p = dir_ / name;
    EXPECT_TRUE(data::WriteNpy(p.string(), t).ok());
    return p;
  }
  absl::Status Run(const PtqOptions& o) {
    TestContext ctx(dir_);
    return RunPtq(o, ctx).status();
  }

  std::filesystem::path fixtures_, dir_;
};

TEST_F(PtqTest, LenetStaticWritesModelAndReport) {
  TestContext ctx(dir_);
  PtqOptions o = LenetOptions();
  o.calibrator = "entropy";
  auto result = RunPtq(o, ctx);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->artifacts.size(), 2u);
  EXPECT_EQ(result->artifacts[0].name, "model");
  auto imported = onnx::ImportModelFile(result->artifacts[0].path.string());
  ASSERT_TRUE(imported.ok()) << imported.status();
  int q = 0;
  for (const ir::Node& n : imported->graph.nodes()) q += n.op_type() == "QuantizeLinear";
  EXPECT_GT(q, 3);
  auto text = ReadFile(result->artifacts[1].path.string());
  ASSERT_TRUE(text.ok());
  const nlohmann::json report = nlohmann::json::parse(*text);
  const nlohmann::json& m = report["metrics"];
  EXPECT_NEAR(m["accuracy_quantized"].get<double>(), m["accuracy_fp32"].get<double>(), 0.05);
  EXPECT_GE(m["agreement_top1"].get<double>(), 0.95);
  EXPECT_LT(m["model_bytes_quantized"].get<double>(), 0.4 * m["model_bytes_fp32"].get<double>());
  EXPECT_EQ(report["layers"].size(), 5u);  // 2 Conv + 3 Gemm
  EXPECT_EQ(report["sensitivity"].size(), 5u);
  EXPECT_EQ(report["weights"].size(), 10u);  // weights and biases
  EXPECT_FALSE(report["activations"].empty());
  EXPECT_FALSE(report["fused_activations"].empty());
  EXPECT_TRUE(report["activations"][0]["sqnr_db"].is_number());
  EXPECT_FALSE(report["target"]["highway_target"].get<std::string>().empty());
  EXPECT_EQ(report["calibration"]["method"], "entropy");
  EXPECT_EQ(report["latency"].size(), 2u);  // fp32 and quantized at batch 1
  EXPECT_EQ(ctx.steps.back(), "export");
}

TEST_F(PtqTest, SameInputsGiveSameBytes) {
  PtqOptions o = LenetOptions();
  o.sensitivity = false;
  std::string first;
  for (int i = 0; i < 2; ++i) {
    TestContext ctx(dir_);
    auto r = RunPtq(o, ctx);
    ASSERT_TRUE(r.ok()) << r.status();
    auto bytes = ReadFile(r->artifacts[0].path.string());
    ASSERT_TRUE(bytes.ok());
    if (i == 0)
      first = *bytes;
    else
      EXPECT_EQ(first, *bytes);
  }
}

// The report names input files, not the directories a runner put them in, so the same
// inputs give the same report wherever they are, apart from the measured latencies.
TEST_F(PtqTest, ReportIsReproducibleApartFromLatency) {
  PtqOptions o = LenetOptions();
  o.sensitivity = false;
  const std::filesystem::path copies = dir_ / "elsewhere";
  ASSERT_TRUE(std::filesystem::create_directories(copies));
  std::string reports[2];
  for (int i = 0; i < 2; ++i) {
    if (i == 1) {
      for (std::filesystem::path* p : {&o.model, &o.calibration, &o.eval, &o.eval_labels}) {
        std::error_code ec;  // calibration and eval are the same file
        std::filesystem::copy_file(*p, copies / p->filename(),
                                   std::filesystem::copy_options::skip_existing, ec);
        ASSERT_FALSE(ec) << ec.message();
        *p = copies / p->filename();
      }
    }
    TestContext ctx(dir_);
    auto r = RunPtq(o, ctx);
    ASSERT_TRUE(r.ok()) << r.status();
    auto text = ReadFile(r->artifacts[1].path.string());
    ASSERT_TRUE(text.ok());
    nlohmann::json report = nlohmann::json::parse(*text);
    EXPECT_EQ(report["options"]["model"], "lenet.onnx");
    report.erase("latency");
    for (auto it = report["metrics"].begin(); it != report["metrics"].end();) {
      it = it.key().starts_with("latency_") ? report["metrics"].erase(it) : std::next(it);
    }
    reports[i] = report.dump(2);
  }
  EXPECT_EQ(reports[0], reports[1]);
}

TEST_F(PtqTest, DynamicAndFp16Modes) {
  for (const char* mode : {"dynamic", "fp16", "bf16"}) {
    SCOPED_TRACE(mode);
    PtqOptions o = LenetOptions();
    o.model = fixtures_ / "models/mlp.onnx";
    o.mode = mode;
    TestContext ctx(dir_);
    auto r = RunPtq(o, ctx);
    ASSERT_TRUE(r.ok()) << r.status();
    double agreement = 0;
    for (const Metric& m : r->metrics) agreement = m.name == "agreement_top1" ? m.value : agreement;
    EXPECT_GE(agreement, 0.95);
  }
}

TEST_F(PtqTest, BadCalibrationDataIsAClearError) {
  PtqOptions o = LenetOptions();
  o.calibration = dir_ / "missing.npy";
  EXPECT_EQ(Run(o).code(), absl::StatusCode::kNotFound);

  o.calibration = WriteNpy("shape.npy", Tensor::Zeros(DType::kFloat32, Shape({4, 3, 5})));
  absl::Status s = Run(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("[3, 5]"), std::string::npos) << s;

  o.calibration = WriteNpy("empty.npy", Tensor::Zeros(DType::kFloat32, Shape({0, 1, 28, 28})));
  s = Run(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("no samples"), std::string::npos) << s;

  Tensor nan = Tensor::Zeros(DType::kFloat32, Shape({2, 1, 28, 28}));
  nan.mutable_data<float>()[900] = std::nanf("");
  o.calibration = WriteNpy("nan.npy", nan);
  s = Run(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("sample 1 has NaN"), std::string::npos) << s;

  o.calibration = WriteNpy("bool.npy", Tensor::Zeros(DType::kBool, Shape({2, 1, 28, 28})));
  EXPECT_EQ(Run(o).code(), absl::StatusCode::kInvalidArgument);

  o = LenetOptions();
  o.eval_labels = WriteNpy("labels.npy", Tensor::Zeros(DType::kInt64, Shape({3})));
  s = Run(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("one per sample"), std::string::npos) << s;
}

TEST_F(PtqTest, BadOptionsNameTheField) {
  PtqOptions o = LenetOptions();
  o.calibrator = "kl";
  EXPECT_EQ(Run(o).code(), absl::StatusCode::kInvalidArgument);
  o = LenetOptions();
  o.percentile = 0;
  o.calibrator = "percentile";
  EXPECT_EQ(Run(o).code(), absl::StatusCode::kInvalidArgument);
  o = LenetOptions();
  o.max_accuracy_drop = 1.5;
  EXPECT_EQ(Run(o).code(), absl::StatusCode::kInvalidArgument);
  o = LenetOptions();
  o.target = "riscv";
  EXPECT_EQ(Run(o).code(), absl::StatusCode::kInvalidArgument);
  o = LenetOptions();
  o.calibration.clear();
  EXPECT_EQ(Run(o).code(), absl::StatusCode::kInvalidArgument);
  o = LenetOptions();
  o.mode = "int4";
  EXPECT_EQ(Run(o).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PtqTest, FixedRangesReplaceCalibratedOnes) {
  // "input" feeds the first Conv: its QuantizeLinear scale must come from the file.
  const std::filesystem::path ranges = dir_ / "ranges.json";
  ASSERT_TRUE(AtomicWriteFile(ranges.string(), R"({"input": [0, 0.51]})").ok());
  TestContext ctx(dir_);
  PtqOptions o = LenetOptions();
  o.fixed_ranges = ranges;
  o.sensitivity = false;
  auto result = RunPtq(o, ctx);
  ASSERT_TRUE(result.ok()) << result.status();
  auto text = ReadFile(result->artifacts[1].path.string());
  ASSERT_TRUE(text.ok());
  const nlohmann::json report = nlohmann::json::parse(*text);
  EXPECT_EQ(report["calibration"]["fixed_ranges"], 1);
  EXPECT_EQ(report["options"]["fixed_ranges"], "ranges.json");
  int fixed = 0;
  for (const nlohmann::json& t : report["calibration"]["tensors"]) {
    if (!t["fixed"].get<bool>()) continue;
    ++fixed;
    EXPECT_EQ(t["name"], "input");
    EXPECT_FLOAT_EQ(t["range_max"].get<float>(), 0.51f);
  }
  EXPECT_EQ(fixed, 1);
  bool found = false;
  for (const nlohmann::json& a : report["activations"]) {
    if (a["name"] != "input") continue;
    found = true;
    EXPECT_FLOAT_EQ(a["scale"].get<float>(), 0.51f / 255.0f);
    EXPECT_EQ(a["zero_point"], 0);
  }
  EXPECT_TRUE(found);
}

TEST_F(PtqTest, QatRangesReachTheRecipeThroughAnOnnxRoundTrip) {
  // The value names QAT (train/qat.h) learns ranges for, on the graph ptq quantizes (the
  // session's), are the names ptq calibrates again after the model is exported and imported.
  auto imported = onnx::ImportModelFile((fixtures_ / "models/lenet.onnx").string());
  ASSERT_TRUE(imported.ok()) << imported.status();
  auto session = exec::Session::Create(*std::move(imported));
  ASSERT_TRUE(session.ok()) << session.status();
  ir::Model folded = (*session)->model();
  quant::NameNodes(folded.graph);
  auto images = data::ReadNpy((fixtures_ / "data/images_64.npy").string());
  ASSERT_TRUE(images.ok()) << images.status();
  auto calib = data::Dataset::Make(*images);
  ASSERT_TRUE(calib.ok()) << calib.status();
  auto cal = quant::Calibrate(**session, *calib, {});
  ASSERT_TRUE(cal.ok()) << cal.status();
  auto qat = train::InsertFakeQuant(folded, cal->ranges, {});
  ASSERT_TRUE(qat.ok()) << qat.status();
  auto plain = train::RemoveFakeQuant(qat->model);
  ASSERT_TRUE(plain.ok()) << plain.status();
  PtqOptions o = LenetOptions();
  o.model = dir_ / "qat.onnx";
  o.fixed_ranges = dir_ / "ranges.json";
  o.sensitivity = false;
  ASSERT_TRUE(onnx::ExportModelFile(plain->model, o.model.string()).ok());
  nlohmann::json ranges = nlohmann::json::object();
  for (const auto& [name, r] : plain->ranges) ranges[name] = {r.min, r.max};
  ASSERT_TRUE(AtomicWriteFile(o.fixed_ranges.string(), ranges.dump()).ok());
  TestContext ctx(dir_);
  auto result = RunPtq(o, ctx);
  ASSERT_TRUE(result.ok()) << result.status();
  auto text = ReadFile(result->artifacts[1].path.string());
  ASSERT_TRUE(text.ok());
  const nlohmann::json report = nlohmann::json::parse(*text);
  EXPECT_EQ(report["calibration"]["fixed_ranges"].get<size_t>(), plain->ranges.size());
}

TEST_F(PtqTest, BadFixedRangesNameTheProblem) {
  const std::filesystem::path ranges = dir_ / "ranges.json";
  auto run_with = [&](const std::string& text, const std::string& mode = "static") {
    EXPECT_TRUE(AtomicWriteFile(ranges.string(), text).ok());
    PtqOptions o = LenetOptions();
    o.fixed_ranges = ranges;
    o.mode = mode;
    o.sensitivity = false;
    return Run(o);
  };
  struct Case {
    std::string text, message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"input": [1, 0]})", "value 'input': range [1,0] must be finite with lo <= hi"},
           {R"({"input": [0, 1e39]})", "must be finite"},
           {R"({"input": [0]})", "value 'input': expected [lo, hi]"},
           {R"({"input": [0, 1], "nope": [0, 1], "zip": [0, 2]})",
            "not float32 activations of the model: 'nope', 'zip'"},
           {R"([0, 1])", "expected a JSON object"},
           {"{", "expected a JSON object"}}) {
    SCOPED_TRACE(c.text);
    absl::Status s = run_with(c.text);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(std::string(s.message()).find(c.message), std::string::npos) << s;
    EXPECT_NE(std::string(s.message()).find("fixed_ranges"), std::string::npos) << s;
  }
  absl::Status s = run_with(R"({"input": [0, 1]})", "dynamic");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(std::string(s.message()).find("fixed_ranges"), std::string::npos) << s;
  PtqOptions o = LenetOptions();
  o.fixed_ranges = dir_ / "missing.json";
  EXPECT_NE(std::string(Run(o).message()).find("missing.json"), std::string::npos);
}

TEST_F(PtqTest, UnquantizableModelIsUnimplemented) {
  ir::Model m = exec::testing::ModelBuilder(13)
                    .Input("input", DType::kFloat32, {-1, 1, 28, 28})
                    .Node("Relu", {"input"}, {"logits"})
                    .Output("logits")
                    .Build();
  PtqOptions o = LenetOptions();
  o.model = dir_ / "relu.onnx";
  ASSERT_TRUE(onnx::ExportModelFile(m, o.model.string()).ok());
  absl::Status s = Run(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(std::string(s.message()).find("no layer"), std::string::npos) << s;
}

TEST_F(PtqTest, CancellationStopsWithoutArtifacts) {
  TestContext ctx(dir_, /*cancel_after=*/2);
  auto r = RunPtq(LenetOptions(), ctx);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "model.int8.onnx"));
}

}  // namespace
}  // namespace mp::pipeline
