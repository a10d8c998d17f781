// Tests of the QAT model transform (qat.h) on the LeNet fixture: the fake-quantized model
// computes what the QDQ model computes, removing the fake quantization gives the input graph
// back, and a short QAT fine-tune quantizes at least as well as PTQ. The last test prints the
// accuracies (fp32, PTQ int8, QAT int8, with 8- and 7-bit weights) for the record; it checks
// only correctness with a tolerance, never timing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/quant/quant.h"
#include "workers/engine/train/fashion_test_util.h"
#include "workers/engine/train/fit.h"
#include "workers/engine/train/qat.h"

namespace mp::train {
namespace {

using tensor::Tensor;
using testing::FashionMnist;
using testing::FixtureModel;

struct Lenet {
  ir::Model folded;  // as pipeline/ptq quantizes it: the session's graph, nodes named
  quant::RangeMap ranges;
  data::Dataset train, test;
};

const Lenet& LenetSetup() {
  static const Lenet* lenet = [] {
    auto* l = new Lenet();
    auto session = exec::Session::Create(FixtureModel("lenet.onnx"), {.num_threads = 2});
    MP_CHECK(session.ok()) << session.status();
    l->folded = (*session)->model();
    quant::NameNodes(l->folded.graph);
    l->train = FashionMnist("train", 4000);
    l->test = *FashionMnist("t10k").Take(3000);
    auto calib = l->train.Take(1000);
    MP_CHECK(calib.ok());
    auto cal = quant::Calibrate(**session, *calib, {});
    MP_CHECK(cal.ok()) << cal.status();
    l->ranges = cal->ranges;
    return l;
  }();
  return *lenet;
}

// Top-1 accuracy of an exec session (integer kernels for QDQ models when fuse_qdq).
double Accuracy(const ir::Model& model, const data::Dataset& ds, bool fuse_qdq) {
  auto s = exec::Session::Create(model, {.num_threads = 2, .fuse_qdq = fuse_qdq});
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return 0;
  int64_t correct = 0;
  for (int64_t b = 0; b < ds.size(); b += 500) {
    const data::Batch batch = ds.Slice(b, std::min(ds.size(), b + 500));
    auto out = (*s)->Run({{"input", batch.inputs}});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return 0;
    const Tensor& logits = (*out)[0].second;
    const int64_t c = logits.shape().dim(1);
    for (int64_t r = 0; r < batch.size(); ++r) {
      const float* row = logits.data<float>() + r * c;
      correct += std::max_element(row, row + c) - row == batch.labels.data<int64_t>()[r];
    }
  }
  return double(correct) / double(ds.size());
}

TEST(QatTest, InsertCoversWhatTheQuantizerQuantizesAndRemoveRestoresTheGraph) {
  const Lenet& l = LenetSetup();
  auto qat = InsertFakeQuant(l.folded, l.ranges, {});
  ASSERT_TRUE(qat.ok()) << qat.status();
  auto q = quant::QuantizeStatic(l.folded, l.ranges, {});
  ASSERT_TRUE(q.ok()) << q.status();
  int weights = 0;
  for (const quant::QuantizedTensor& t : q->tensors) {
    weights += t.kind == quant::QuantizedTensor::Kind::kWeight;
  }
  EXPECT_EQ(static_cast<int>(qat->weights.size()), weights);
  EXPECT_FALSE(qat->activations.empty());
  EXPECT_EQ(qat->model.graph.num_nodes(),
            l.folded.graph.num_nodes() + weights + static_cast<int>(qat->activations.size()));

  auto removed = RemoveFakeQuant(qat->model);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->model.opset_imports, l.folded.opset_imports);
  ASSERT_EQ(removed->model.graph.num_nodes(), l.folded.graph.num_nodes());
  ASSERT_EQ(removed->model.graph.num_values(), l.folded.graph.num_values());
  for (const ir::Value& v : l.folded.graph.values()) {
    EXPECT_TRUE(removed->model.graph.FindValue(v.name()).valid()) << v.name();
  }
  ASSERT_EQ(removed->ranges.size(), qat->activations.size());
  for (const std::string& a : qat->activations) {
    const quant::Range want = l.ranges.at(a), got = removed->ranges.at(a);
    EXPECT_EQ(got.min, std::min(want.min, 0.0f)) << a;
    EXPECT_EQ(got.max, std::max(want.max, 0.0f)) << a;
  }
  // Same function: the untrained round trip is the input model.
  const data::Batch batch = l.test.Slice(0, 64);
  auto a = exec::Session::Create(l.folded);
  auto b = exec::Session::Create(removed->model);
  ASSERT_TRUE(a.ok() && b.ok());
  auto ya = (*a)->Run({{"input", batch.inputs}});
  auto yb = (*b)->Run({{"input", batch.inputs}});
  ASSERT_TRUE(ya.ok() && yb.ok());
  for (int64_t i = 0; i < (*ya)[0].second.num_elements(); ++i) {
    ASSERT_EQ((*ya)[0].second.data<float>()[i], (*yb)[0].second.data<float>()[i]);
  }
  // Bounds are stored in units of a power of two: the widened width becomes (0.5, 1].
  for (const ir::Node& n : qat->model.graph.nodes()) {
    if (n.op_type() != kFakeQuantizeOp) continue;
    const float lo = qat->model.graph.value(n.input(1)).initializer().data<float>()[0];
    const float hi = qat->model.graph.value(n.input(2)).initializer().data<float>()[0];
    const float width = std::max(hi, 0.0f) - std::min(lo, 0.0f);
    EXPECT_GT(width, 0.5f) << n.name();
    EXPECT_LE(width, 1.0f) << n.name();
  }
  // Inserting twice is refused.
  EXPECT_FALSE(InsertFakeQuant(qat->model, l.ranges, {}).ok());
}

TEST(QatTest, FakeQuantizedModelComputesTheQdqModel) {
  const Lenet& l = LenetSetup();
  for (bool reduce : {false, true}) {
    SCOPED_TRACE(reduce ? "7-bit weights" : "8-bit weights");
    const quant::QuantizerOptions qopts{.reduce_range = reduce};
    auto qat = InsertFakeQuant(l.folded, l.ranges, {.quantizer = qopts});
    ASSERT_TRUE(qat.ok()) << qat.status();
    auto graph = GradGraph::Create(qat->model, {.num_threads = 2});
    ASSERT_TRUE(graph.ok()) << graph.status();
    auto q = quant::QuantizeStatic(l.folded, l.ranges, qopts);
    ASSERT_TRUE(q.ok()) << q.status();
    auto qdq = exec::Session::Create(q->model, {.num_threads = 2});  // float QDQ semantics
    ASSERT_TRUE(qdq.ok()) << qdq.status();
    const data::Batch batch = l.test.Slice(0, 256);
    auto fq = (*graph)->Forward({{"input", batch.inputs}}, Mode::kEval);
    auto ref = (*qdq)->Run({{"input", batch.inputs}});
    ASSERT_TRUE(fq.ok() && ref.ok());
    // Only the biases differ (int32 in the QDQ model, float here): tiny differences.
    const Tensor& y = (*fq)[0].second;
    const Tensor& r = (*ref)[0].second;
    double max_diff = 0, max_abs = 0;
    int agree = 0;
    for (int64_t row = 0; row < 256; ++row) {
      const float* py = y.data<float>() + row * 10;
      const float* pr = r.data<float>() + row * 10;
      for (int k = 0; k < 10; ++k) {
        max_diff = std::max(max_diff, double(std::fabs(py[k] - pr[k])));
        max_abs = std::max(max_abs, double(std::fabs(pr[k])));
      }
      agree += std::max_element(py, py + 10) - py == std::max_element(pr, pr + 10) - pr;
    }
    EXPECT_LT(max_diff, 0.02 * max_abs);
    EXPECT_GE(agree, 250);
  }
}

// One epoch of Adam (lr 1e-4, cosine) on the 4000 training images: the QAT budget, and the
// control (the same fine-tune without fake quantization, then PTQ).
ir::Model FineTune(const ir::Model& model, const data::Dataset& train) {
  auto graph = GradGraph::Create(model, {.num_threads = 2});
  MP_CHECK(graph.ok()) << graph.status();
  auto fit = Fit(**graph, train, nullptr,
                 {.epochs = 1,
                  .batch_size = 32,
                  .seed = 1,
                  .optimizer = {.kind = OptimizerKind::kAdam, .lr = 1e-4f},
                  .schedule = {.kind = ScheduleKind::kCosine}});
  MP_CHECK(fit.ok()) << fit.status();
  auto trained = (*graph)->ExportModel();
  MP_CHECK(trained.ok()) << trained.status();
  return *std::move(trained);
}

TEST(QatTest, ShortFineTuneQuantizesAtLeastAsWellAsPtq) {
  const Lenet& l = LenetSetup();
  const double fp32 = Accuracy(l.folded, l.test, false);
  const ir::Model control = FineTune(l.folded, l.train);
  std::printf(
      "lenet on %lld Fashion-MNIST test images: fp32 %.4f; fp32 fine-tuned (control) %.4f\n",
      static_cast<long long>(l.test.size()), fp32, Accuracy(control, l.test, false));
  for (bool reduce : {false, true}) {
    SCOPED_TRACE(reduce ? "7-bit weights" : "8-bit weights");
    const quant::QuantizerOptions qopts{.reduce_range = reduce};
    auto ptq = quant::QuantizeStatic(l.folded, l.ranges, qopts);
    ASSERT_TRUE(ptq.ok()) << ptq.status();
    const double ptq_acc = Accuracy(ptq->model, l.test, true);
    auto ptq_control = quant::QuantizeStatic(control, l.ranges, qopts);
    ASSERT_TRUE(ptq_control.ok()) << ptq_control.status();
    const double control_acc = Accuracy(ptq_control->model, l.test, true);

    auto qat = InsertFakeQuant(l.folded, l.ranges, {.quantizer = qopts});
    ASSERT_TRUE(qat.ok()) << qat.status();
    auto result = RemoveFakeQuant(FineTune(qat->model, l.train));
    ASSERT_TRUE(result.ok()) << result.status();
    quant::RangeMap ranges = l.ranges;
    double moved = 0;  // largest change of a range bound, relative to the range's width
    for (const auto& [name, r] : result->ranges) {
      const quant::Range c = l.ranges.at(name);
      const double width = std::max(c.max, 0.0f) - std::min(c.min, 0.0f);
      moved = std::max({moved, std::fabs(r.min - std::min(c.min, 0.0f)) / width,
                        std::fabs(r.max - std::max(c.max, 0.0f)) / width});
      ranges[name] = r;
    }
    auto q = quant::QuantizeStatic(result->model, ranges, qopts);
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_EQ(q->layers, ptq->layers);
    const double qat_acc = Accuracy(q->model, l.test, true);
    std::printf(
        "%s weights, int8 (exact integer kernels): PTQ %.4f | fine-tune + PTQ %.4f | QAT %.4f "
        "(fp32 of the QAT weights %.4f; %zu learned ranges, largest bound move %.1f%% of "
        "the width)\n",
        reduce ? "7-bit" : "8-bit", ptq_acc, control_acc, qat_acc,
        Accuracy(result->model, l.test, false), result->ranges.size(), 100 * moved);
    EXPECT_GE(qat_acc, ptq_acc - 0.01);
    EXPECT_GT(moved, 0);  // the ranges trained
  }
}

}  // namespace
}  // namespace mp::train
