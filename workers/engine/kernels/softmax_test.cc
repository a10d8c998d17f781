#include "workers/engine/kernels/softmax.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"

namespace mp::kernels {
namespace {

using testing::ExpectNear;
using testing::ForEachTarget;
using testing::RandomVector;

const int64_t kLengths[] = {1, 2, 7, 8, 9, 16, 31, 100, 1000};

TEST(SoftmaxReference, HandComputed) {
  const std::vector<float> x = {0, std::log(3.0f), 5, 5};
  std::vector<float> y(4);
  SoftmaxReference(2, 2, x.data(), y.data());
  ExpectNear(y, {0.25f, 0.75f, 0.5f, 0.5f}, 0, 1e-6f);
  LogSoftmaxReference(2, 2, x.data(), y.data());
  ExpectNear(y, {std::log(0.25f), std::log(0.75f), std::log(0.5f), std::log(0.5f)}, 0, 1e-6f);
}

TEST(Softmax, MatchesReferenceOnEveryTarget) {
  for (int64_t n : kLengths) {
    const int64_t rows = 3;
    auto x = RandomVector(rows * n, static_cast<uint32_t>(n), -20, 20);
    x[0] = 80.0f;  // large logits must not overflow
    std::vector<float> want(x.size()), want_log(x.size());
    SoftmaxReference(rows, n, x.data(), want.data());
    LogSoftmaxReference(rows, n, x.data(), want_log.data());
    ForEachTarget([&] {
      std::vector<float> got(x.size()), got_log(x.size());
      Softmax(rows, n, x.data(), got.data());
      LogSoftmax(rows, n, x.data(), got_log.data());
      ExpectNear(got, want, 1e-30f, 2e-6f);
      ExpectNear(got_log, want_log, 2e-5f, 1e-6f);
    });
  }
}

TEST(Softmax, InPlaceAndThreadCountInvariant) {
  const auto x = RandomVector(300 * 97, 5, -5, 5);
  ThreadPool two(2);
  std::vector<float> serial(x.size()), threaded = x;
  Softmax(300, 97, x.data(), serial.data());
  Softmax(300, 97, threaded.data(), threaded.data(), &two);
  EXPECT_EQ(0, std::memcmp(serial.data(), threaded.data(), x.size() * sizeof(float)));
  LogSoftmax(300, 97, x.data(), serial.data());
  threaded = x;
  LogSoftmax(300, 97, threaded.data(), threaded.data(), &two);
  EXPECT_EQ(0, std::memcmp(serial.data(), threaded.data(), x.size() * sizeof(float)));
}

TEST(LayerNormReference, HandComputed) {
  const std::vector<float> x = {1, 2, 3, 4}, scale = {1, 1, 2, 2}, bias = {0, 0, 0, 1};
  std::vector<float> y(4), mean(1), inv(1);
  LayerNormReference(1, 4, x.data(), scale.data(), bias.data(), 0.0f, y.data(), mean.data(),
                     inv.data());
  const float s = 1.0f / std::sqrt(1.25f);  // var = (2.25 + 0.25 + 0.25 + 2.25) / 4
  EXPECT_FLOAT_EQ(mean[0], 2.5f);
  EXPECT_FLOAT_EQ(inv[0], s);
  ExpectNear(y, {-1.5f * s, -0.5f * s, 1.0f * s, 3.0f * s + 1}, 0, 1e-6f);
}

TEST(LayerNorm, MatchesReferenceOnEveryTarget) {
  for (int64_t n : kLengths) {
    const int64_t rows = 5;
    const auto x = RandomVector(rows * n, static_cast<uint32_t>(n + 1), -3, 7);
    const auto scale = RandomVector(n, 2), bias = RandomVector(n, 3);
    for (const float* b : {bias.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> want(x.size()), want_mean(rows), want_inv(rows);
      LayerNormReference(rows, n, x.data(), scale.data(), b, 1e-5f, want.data(), want_mean.data(),
                         want_inv.data());
      ForEachTarget([&] {
        std::vector<float> got(x.size()), mean(rows), inv(rows);
        LayerNorm(rows, n, x.data(), scale.data(), b, 1e-5f, got.data(), mean.data(), inv.data());
        ExpectNear(got, want, 2e-5f, 2e-5f);
        ExpectNear(mean, want_mean, 1e-5f, 1e-5f);
        ExpectNear(inv, want_inv, 0, 2e-5f);
        LayerNorm(rows, n, x.data(), scale.data(), b, 1e-5f, got.data(), nullptr, nullptr);
        ExpectNear(got, want, 2e-5f, 2e-5f);
      });
    }
  }
}

TEST(LayerNorm, ThreadCountInvariant) {
  const auto x = RandomVector(64 * 333, 9);
  const auto scale = RandomVector(333, 10);
  ThreadPool two(2);
  std::vector<float> a(x.size()), b(x.size());
  LayerNorm(64, 333, x.data(), scale.data(), nullptr, 1e-5f, a.data(), nullptr, nullptr);
  LayerNorm(64, 333, x.data(), scale.data(), nullptr, 1e-5f, b.data(), nullptr, nullptr, &two);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

TEST(BatchNormInference, MatchesReferenceOnEveryTarget) {
  for (int64_t spatial : {1, 5, 8, 49, 1000}) {
    const int64_t batch = 2, channels = 3;
    const auto x = RandomVector(batch * channels * spatial, 11);
    const auto scale = RandomVector(channels, 12), bias = RandomVector(channels, 13);
    const auto mean = RandomVector(channels, 14), var = RandomVector(channels, 15, 0.1f, 2);
    std::vector<float> want(x.size());
    BatchNormInferenceReference(batch, channels, spatial, x.data(), scale.data(), bias.data(),
                                mean.data(), var.data(), 1e-5f, want.data());
    ForEachTarget([&] {
      std::vector<float> got(x.size());
      BatchNormInference(batch, channels, spatial, x.data(), scale.data(), bias.data(), mean.data(),
                         var.data(), 1e-5f, got.data());
      ExpectNear(got, want, 1e-6f, 1e-5f);
    });
  }
}

}  // namespace
}  // namespace mp::kernels
