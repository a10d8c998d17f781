#include "workers/engine/kernels/pool.h"

#include <cstring>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"

namespace mp::kernels {
namespace {

using testing::ExpectNear;
using testing::ForEachTarget;
using testing::RandomVector;

struct Case {
  int64_t n, c, h, w, kh, kw;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  bool ceil = false;
};

Pool2dParams Make(const Case& c, bool include_pad) {
  Pool2dParams p;
  p.batch = c.n;
  p.channels = c.c;
  p.in_h = c.h;
  p.in_w = c.w;
  p.kernel_h = c.kh;
  p.kernel_w = c.kw;
  p.stride_h = c.sh;
  p.stride_w = c.sw;
  p.dilation_h = c.dh;
  p.dilation_w = c.dw;
  p.pad_top = c.pt;
  p.pad_left = c.pl;
  p.pad_bottom = c.pb;
  p.pad_right = c.pr;
  p.count_include_pad = include_pad;
  p.out_h = PoolOutputSize(c.h, c.kh, c.sh, c.pt, c.pb, c.dh, c.ceil);
  p.out_w = PoolOutputSize(c.w, c.kw, c.sw, c.pl, c.pr, c.dw, c.ceil);
  return p;
}

TEST(PoolOutputSize, FloorCeilAndTheDroppedLastWindow) {
  EXPECT_EQ(PoolOutputSize(28, 2, 2, 0, 0, 1, false), 14);
  EXPECT_EQ(PoolOutputSize(112, 3, 2, 1, 1, 1, false), 56);
  EXPECT_EQ(PoolOutputSize(5, 2, 2, 0, 0, 1, false), 2);
  EXPECT_EQ(PoolOutputSize(5, 2, 2, 0, 0, 1, true), 3);
  // ceil would start a window at 6 >= in + pad_begin = 6: dropped.
  EXPECT_EQ(PoolOutputSize(5, 2, 3, 1, 1, 1, true), 2);
  EXPECT_EQ(PoolOutputSize(7, 3, 1, 0, 0, 2, false), 3);
  EXPECT_EQ(PoolOutputSize(2, 5, 1, 0, 0, 1, false), 0);
}

TEST(PoolReference, HandComputed) {
  // 3x3 input, 2x2 kernel, stride 1, pad 1 at the end only.
  Pool2dParams p = Make({1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1}, false);
  ASSERT_EQ(p.out_h, 3);
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<float> y(9);
  MaxPool2dReference(p, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{5, 6, 6, 8, 9, 9, 8, 9, 9}));
  AveragePool2dReference(p, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3, 4, 4.5f, 6, 7, 7.5f, 7.5f, 8.5f, 9}));
  p.count_include_pad = true;
  AveragePool2dReference(p, x.data(), y.data());
  EXPECT_EQ(y,
            (std::vector<float>{3, 4, 9.0f / 4, 6, 7, 15.0f / 4, 15.0f / 4, 17.0f / 4, 9.0f / 4}));
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {2, 3, 28, 28, 2, 2, 2, 2},                          // LeNet 2x2/2
      {1, 4, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},      // ResNet 3x3/2 pad 1
      {1, 3, 9, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},         // stride 1, width 37
      {1, 2, 11, 13, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, true},  // ceil mode
      {1, 2, 12, 40, 3, 2, 1, 1, 2, 2, 2, 1, 0, 3},        // dilation, asym pads
      {1, 5, 7, 7, 7, 7},                                  // global-sized window
      {2, 1, 6, 50, 1, 5, 1, 2, 1, 1, 0, 2, 0, 2},         // 1-D style
      {1, 3, 8, 8, 2, 3, 3, 3, 1, 1, 1, 0, 1, 2, true},    // stride 3
      {1, 2, 20, 66, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, true},  // 5x5/2 ceil
      {3, 2, 8, 8, 2, 2, 2, 2},                            // LeNet pool 2: 4 columns
      {1, 2, 6, 21, 2, 2, 2, 2},                           // 10 columns: 8 + overlap
      {1, 2, 5, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},         // stride 1, 11 columns
      {1, 1, 4, 7, 2, 2, 1, 1},                            // 6 columns: 4 + overlap
  };
  return cases;
}

TEST(Pool, BitIdenticalToReferenceOnEveryTarget) {
  ThreadPool two(2);
  for (const Case& c : Cases()) {
    for (bool include_pad : {false, true}) {
      const Pool2dParams p = Make(c, include_pad);
      SCOPED_TRACE(::testing::Message() << c.h << "x" << c.w << " k" << c.kh << "x" << c.kw << " s"
                                        << c.sh << "x" << c.sw << " pad " << include_pad);
      const int64_t in = p.batch * p.channels * p.in_h * p.in_w;
      const int64_t out = p.batch * p.channels * p.out_h * p.out_w;
      const auto x = RandomVector(in, 3);
      std::vector<float> want_max(out), want_avg(out);
      MaxPool2dReference(p, x.data(), want_max.data());
      AveragePool2dReference(p, x.data(), want_avg.data());
      ForEachTarget([&] {
        std::vector<float> got(out, 7.0f);
        MaxPool2d(p, x.data(), got.data());
        EXPECT_EQ(0, std::memcmp(got.data(), want_max.data(), out * sizeof(float)));
        AveragePool2d(p, x.data(), got.data());
        EXPECT_EQ(0, std::memcmp(got.data(), want_avg.data(), out * sizeof(float)));
      });
      std::vector<float> threaded(out);
      MaxPool2d(p, x.data(), threaded.data(), &two);
      EXPECT_EQ(0, std::memcmp(threaded.data(), want_max.data(), out * sizeof(float)));
      AveragePool2d(p, x.data(), threaded.data(), &two);
      EXPECT_EQ(0, std::memcmp(threaded.data(), want_avg.data(), out * sizeof(float)));
    }
  }
}

TEST(GlobalPool, MeanAndMax) {
  for (int64_t spatial : {1, 7, 49, 196, 3136}) {
    const int64_t planes = 6;
    const auto x = RandomVector(planes * spatial, 4);
    std::vector<float> want_avg(planes), want_max(planes);
    for (int64_t p = 0; p < planes; ++p) {
      double s = 0;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < spatial; ++i) {
        s += x[p * spatial + i];
        m = std::max(m, x[p * spatial + i]);
      }
      want_avg[p] = static_cast<float>(s / static_cast<double>(spatial));
      want_max[p] = m;
    }
    ForEachTarget([&] {
      std::vector<float> avg(planes), mx(planes);
      GlobalAveragePool(planes, spatial, x.data(), avg.data());
      GlobalMaxPool(planes, spatial, x.data(), mx.data());
      ExpectNear(avg, want_avg, 1e-6f, 1e-5f);
      EXPECT_EQ(mx, want_max);
    });
  }
}

}  // namespace
}  // namespace mp::kernels
