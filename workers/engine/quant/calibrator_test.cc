// Observers, calibrators and quantization parameters.
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/quant/calibrator.h"
#include "workers/engine/quant/observer.h"
#include "workers/engine/quant/qparams.h"

namespace mp::quant {
namespace {

TensorObserver Observe(const std::vector<float>& values, CalibrationMethod method) {
  TensorObserver o("t");
  // Two batches, to exercise streaming.
  const size_t half = values.size() / 2;
  EXPECT_TRUE(o.ObserveRange(std::span(values).first(half)).ok());
  EXPECT_TRUE(o.ObserveRange(std::span(values).subspan(half)).ok());
  if (NeedsHistogram(method)) {
    o.StartHistogram(2048);
    o.ObserveHistogram(std::span(values).first(half));
    o.ObserveHistogram(std::span(values).subspan(half));
  }
  return o;
}

TEST(ObserverTest, RangeZerosAndHistograms) {
  TensorObserver o("x");
  std::vector<float> v = {-2.0f, 0.0f, 0.0f, 1.0f, 4.0f};
  ASSERT_TRUE(o.ObserveRange(v).ok());
  EXPECT_EQ(o.count(), 5);
  EXPECT_EQ(o.zeros(), 2);
  EXPECT_EQ(o.min(), -2.0f);
  EXPECT_EQ(o.max(), 4.0f);
  o.StartHistogram(4);  // bin width 1 over |x| in [0, 4]
  o.ObserveHistogram(v);
  EXPECT_EQ(o.positive(), (std::vector<double>{0, 1, 0, 1}));  // 1 -> bin 1, 4 -> last bin
  EXPECT_EQ(o.negative(), (std::vector<double>{0, 0, 1, 0}));
  EXPECT_EQ(o.AbsHistogram(), (std::vector<double>{2, 1, 1, 1}));
  TensorObserver copy = o;
  o.Merge(copy);
  EXPECT_EQ(o.count(), 10);
  EXPECT_EQ(o.positive()[3], 2.0);
}

TEST(ObserverTest, NonFiniteValuesAreAnErrorNamingTheTensor) {
  TensorObserver o("conv1_out");
  std::vector<float> v = {1.0f, std::nanf("")};
  absl::Status s = o.ObserveRange(v);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("conv1_out"), std::string::npos);
  std::vector<float> inf = {INFINITY};
  EXPECT_FALSE(o.ObserveRange(inf).ok());
}

TEST(CalibratorTest, ParseNames) {
  EXPECT_EQ(*ParseCalibrationMethod("entropy"), CalibrationMethod::kEntropy);
  EXPECT_EQ(ParseCalibrationMethod("kl").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ValidateCalibratorOptions({.percentile = 0}).ok());
  EXPECT_FALSE(ValidateCalibratorOptions({.percentile = 100.5}).ok());
  EXPECT_TRUE(ValidateCalibratorOptions({.percentile = 100}).ok());
}

// A Gaussian bulk with a few far outliers: every histogram method clips the outliers,
// minmax keeps them.
std::vector<float> GaussianWithOutliers() {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(200000);
  for (float& x : v) x = normal(rng);
  v[10] = 60.0f;
  v[20] = -45.0f;
  return v;
}

TEST(CalibratorTest, MinMaxKeepsExtremes) {
  const std::vector<float> v = GaussianWithOutliers();
  Range r = ComputeRange(Observe(v, CalibrationMethod::kMinMax), {});
  EXPECT_EQ(r.max, 60.0f);
  EXPECT_EQ(r.min, -45.0f);
}

TEST(CalibratorTest, PercentileMatchesTheDistribution) {
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) / float(v.size());  // U[0, 1)
  const TensorObserver o = Observe(v, CalibrationMethod::kPercentile);
  Range r = ComputeRange(o, {.method = CalibrationMethod::kPercentile, .percentile = 99.0});
  EXPECT_NEAR(r.max, 0.99f, 2e-3);
  EXPECT_NEAR(r.min, 0.01f, 2e-3);  // the 1st percentile
  Range all = ComputeRange(o, {.method = CalibrationMethod::kPercentile, .percentile = 100.0});
  EXPECT_NEAR(all.max, o.max(), 1e-3);
}

TEST(CalibratorTest, EntropyAndPercentileClipOutliers) {
  const std::vector<float> v = GaussianWithOutliers();
  for (CalibrationMethod m : {CalibrationMethod::kEntropy, CalibrationMethod::kPercentile}) {
    SCOPED_TRACE(CalibrationMethodName(m));
    Range r =
        ComputeRange(Observe(v, m), {.method = m, .scheme = ActivationScheme::kInt8Symmetric});
    EXPECT_GT(r.max, 2.5f);
    EXPECT_LT(r.max, 20.0f);
    EXPECT_LT(r.min, -2.5f);
    EXPECT_GT(r.min, -20.0f);
  }
}

TEST(CalibratorTest, MseLowersTheErrorBelowMinMax) {
  const std::vector<float> v = GaussianWithOutliers();
  const TensorObserver o = Observe(v, CalibrationMethod::kMse);
  const std::vector<float>* data = &v;
  auto error = [&](Range r) {
    const QParams p = ActivationQParams(r, ActivationScheme::kUint8Asymmetric);
    ErrorStats e;
    std::vector<float> fq(data->size());
    for (size_t i = 0; i < data->size(); ++i) fq[i] = FakeQuantize((*data)[i], p);
    e.Add(*data, fq);
    return e.mse();
  };
  // The two outliers cost (60 - t)^2 each when clipped at t, so the best range stays wide,
  // but strictly inside [min, max] and with less error than minmax (0.0098 vs 0.0141 here).
  const Range mse = ComputeRange(o, {.method = CalibrationMethod::kMse});
  EXPECT_LT(mse.max, o.max());
  EXPECT_GT(mse.min, o.min());
  EXPECT_LT(error(mse), 0.8 * error({o.min(), o.max()}));
  // Without outliers the clipping range shrinks well inside the extremes.
  std::vector<float> bulk = v;
  bulk[10] = bulk[20] = 0.0f;
  const TensorObserver b = Observe(bulk, CalibrationMethod::kMse);
  const Range tight = ComputeRange(b, {.method = CalibrationMethod::kMse});
  data = &bulk;
  EXPECT_LT(tight.max, 0.9f * b.max());
  EXPECT_LT(error(tight), error({b.min(), b.max()}));
}

// Half the values sit on one small constant (a ReLU of a bias over a blank background), the
// rest spread up to 8: the entropy threshold must not collapse onto the spike.
TEST(CalibratorTest, EntropyIgnoresSpikes) {
  std::mt19937 rng(3);
  std::exponential_distribution<float> e(2.0f);
  std::vector<float> v(200000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 2 == 0 ? 0.3f : std::min(8.0f, e(rng));
  const TensorObserver o = Observe(v, CalibrationMethod::kEntropy);
  Range r = ComputeRange(o, {.method = CalibrationMethod::kEntropy});
  // Without the spike, the same tail gets the same threshold.
  for (float& x : v) x = x == 0.3f ? std::min(8.0f, e(rng)) : x;
  Range smooth = ComputeRange(Observe(v, CalibrationMethod::kEntropy),
                              {.method = CalibrationMethod::kEntropy});
  EXPECT_GT(r.max, 0.7f * smooth.max) << smooth.max;
}

TEST(CalibratorTest, ConstantTensorGivesItsValue) {
  std::vector<float> v(100, 0.0f);
  Range r = ComputeRange(Observe(v, CalibrationMethod::kEntropy),
                         {.method = CalibrationMethod::kEntropy});
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_EQ(r.max, 0.0f);
  const QParams p = ActivationQParams(r, ActivationScheme::kUint8Asymmetric);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero_point, 0);
}

TEST(QParamsTest, Uint8AsymmetricAndInt8Symmetric) {
  QParams u = ActivationQParams({-1.0f, 3.0f}, ActivationScheme::kUint8Asymmetric);
  EXPECT_FLOAT_EQ(u.scale, 4.0f / 255.0f);
  EXPECT_EQ(u.zero_point, 64);  // rne(1 / (4/255)) = rne(63.75)
  EXPECT_EQ(QuantizeValue(0.0f, u), 64);
  EXPECT_EQ(QuantizeValue(100.0f, u), 255);
  EXPECT_EQ(QuantizeValue(-100.0f, u), 0);
  QParams relu = ActivationQParams({0.5f, 6.0f}, ActivationScheme::kUint8Asymmetric);
  EXPECT_EQ(relu.zero_point, 0);  // the range is widened to include 0
  EXPECT_EQ(relu.representable_min(), 0.0f);
  QParams s = ActivationQParams({-1.0f, 3.0f}, ActivationScheme::kInt8Symmetric);
  EXPECT_FLOAT_EQ(s.scale, 3.0f / 127.0f);
  EXPECT_EQ(s.zero_point, 0);
  EXPECT_EQ(s.type, tensor::DType::kInt8);
  EXPECT_EQ(QuantizeValue(-3.0f, s), -127);
  // Round half to even, as ONNX QuantizeLinear.
  QParams unit{.scale = 1.0f, .zero_point = 0, .type = tensor::DType::kInt8};
  EXPECT_EQ(QuantizeValue(2.5f, unit), 2);
  EXPECT_EQ(QuantizeValue(3.5f, unit), 4);
}

TEST(QParamsTest, WeightsPerChannelAndReducedRange) {
  // [2 channels, 3]: channel 0 max |w| 2, channel 1 max |w| 0.5.
  tensor::Tensor w = tensor::Tensor::FromVector<float>(tensor::Shape({2, 3}),
                                                       {2.0f, -1.0f, 0.0f, 0.5f, 0.25f, -0.5f});
  auto q = QuantizeWeight(w, 0, false, "w");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FLOAT_EQ(q->scales[0], 2.0f / 127.0f);
  EXPECT_FLOAT_EQ(q->scales[1], 0.5f / 127.0f);
  const int8_t* d = q->data.data<int8_t>();
  EXPECT_EQ(d[0], 127);
  EXPECT_EQ(d[1], -64);  // -1 / (2/127) = -63.5 -> -64 (half to even)
  EXPECT_EQ(d[5], -127);
  EXPECT_GT(q->sqnr_db, 30.0);
  auto r = QuantizeWeight(w, 0, true, "w");
  ASSERT_TRUE(r.ok());
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_LE(std::abs(int(r->data.data<int8_t>()[i])), 64);
  }
  EXPECT_EQ(r->data.data<int8_t>()[0], 64);
  auto per_tensor = QuantizeWeight(w, -1, false, "w");
  ASSERT_TRUE(per_tensor.ok());
  EXPECT_EQ(per_tensor->scales.size(), 1u);
  EXPECT_FALSE(QuantizeWeight(w, 2, false, "w").ok());
  tensor::Tensor bad = tensor::Tensor::FromVector<float>(tensor::Shape({1}), {NAN});
  EXPECT_EQ(QuantizeWeight(bad, -1, false, "conv.weight").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(QParamsTest, BiasInt32WithProductScale) {
  tensor::Tensor b = tensor::Tensor::FromVector<float>(tensor::Shape({2}), {1.0f, -0.25f});
  const std::vector<float> ws = {0.5f, 0.25f};
  auto q = QuantizeBias(b, 0.1f, ws, "b");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FLOAT_EQ(q->scales[0], 0.1f * 0.5f);
  EXPECT_EQ(q->data.data<int32_t>()[0], 20);
  EXPECT_EQ(q->data.data<int32_t>()[1], -10);
  EXPECT_EQ(q->clamped, 0);
  tensor::Tensor huge = tensor::Tensor::FromVector<float>(tensor::Shape({1}), {1e30f});
  const std::vector<float> one = {1e-6f};
  auto c = QuantizeBias(huge, 1e-6f, one, "b");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->clamped, 1);
}

}  // namespace
}  // namespace mp::quant
