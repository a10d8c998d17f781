#include "workers/local/eval_command.h"

#include <cstdlib>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/npy.h"
#include "workers/engine/eval/eval.h"

namespace mp::local {
namespace {

std::string Fixture(const std::string& rel) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/tests/fixtures/" + rel;
}

// The accuracy PyTorch's own outputs (saved beside the fixtures) give on the same 64 images.
double TorchAccuracy(const std::string& model) {
  auto scores = data::ReadNpy(Fixture("data/" + model + "_torch_out.npy"));
  auto labels = data::ReadNpy(Fixture("data/labels_64.npy"));
  EXPECT_TRUE(scores.ok() && labels.ok());
  auto preds = eval::ArgmaxLastAxis(*scores);
  EXPECT_TRUE(preds.ok());
  int64_t correct = 0;
  for (size_t i = 0; i < preds->size(); ++i) {
    correct += (*preds)[i] == labels->data<int64_t>()[i] ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(preds->size());
}

TEST(EvalCommandTest, ReportsTheAccuracyPyTorchComputesOnTheSameImages) {
  for (const std::string model : {"lenet", "mlp"}) {
    EvalCommandOptions o;
    o.model_path = Fixture("models/" + model + ".onnx");
    o.data_path = Fixture("data/images_64.npy");  // float32 [64, 1, 28, 28]; MLP reshapes
    o.labels_path = Fixture("data/labels_64.npy");
    o.batch_size = 10;
    o.latency_batches = {1, 3};
    o.iterations = 2;
    o.threads = 2;
    o.json = true;
    std::ostringstream out;
    absl::Status s = EvalModelCommand(o, out);
    ASSERT_TRUE(s.ok()) << model << ": " << s;
    auto report = nlohmann::json::parse(out.str());
    EXPECT_EQ(report["samples"].get<int64_t>(), 64);
    EXPECT_DOUBLE_EQ(report["top1_accuracy"].get<double>(), TorchAccuracy(model)) << model;
    ASSERT_EQ(report["latency"].size(), 2u);
    EXPECT_EQ(report["latency"][1]["batch"].get<int64_t>(), 3);
    EXPECT_GT(report["parameters"].get<int64_t>(), 1000);
  }
}

TEST(EvalCommandTest, TextReportAndUint8Images) {
  EvalCommandOptions o;
  o.model_path = Fixture("models/lenet.onnx");
  o.data_path = Fixture("data/images_u8_64.npy");  // uint8: divided by 255
  o.labels_path = Fixture("data/labels_64.npy");
  o.latency_batches = {2};
  o.iterations = 1;
  std::ostringstream out;
  ASSERT_TRUE(EvalModelCommand(o, out).ok());
  EXPECT_NE(out.str().find("top-1"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("latency     batch 2"), std::string::npos) << out.str();
}

TEST(EvalCommandTest, BadInputsNameTheCulprit) {
  EvalCommandOptions o;
  o.model_path = Fixture("models/missing.onnx");
  o.data_path = Fixture("data/images_64.npy");
  std::ostringstream out;
  absl::Status s = EvalModelCommand(o, out);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(s.message()).find("missing.onnx"), std::string::npos) << s;

  o.model_path = Fixture("models/lenet.onnx");
  o.data_path = Fixture("data/labels_64.npy");  // int64 [64]: not images
  s = EvalModelCommand(o, out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;

  o.data_path = Fixture("data/images_64.npy");
  o.latency_batches = {0};
  EXPECT_EQ(EvalModelCommand(o, out).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mp::local
