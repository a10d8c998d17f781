// Quantized convolution on every compiled Highway target vs the scalar reference
// (bit-exact): groups, depthwise, strides, pads, dilations, 1-D, per-channel zero points,
// every type combination, threads; and the requantized output stage.
// Compile and test AVX3_DL too (qgemm.cc uses it for VNNI; Highway builds it on request).
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

#include "workers/engine/kernels/qconv.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"

namespace mp::kernels {
namespace {

using testing::ForEachTarget;
using testing::RandomBytes;

Conv2dParams Make(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int64_t k, int64_t group,
                  int64_t stride, int64_t pad, int64_t dilation) {
  Conv2dParams p;
  p.batch = n;
  p.in_channels = c;
  p.in_h = h;
  p.in_w = w;
  p.out_channels = m;
  p.group = group;
  p.kernel_h = h == 1 ? 1 : k;
  p.kernel_w = k;
  p.stride_h = p.stride_w = stride;
  p.dilation_h = p.dilation_w = dilation;
  p.pad_top = p.pad_bottom = h == 1 ? 0 : pad;
  p.pad_left = pad;
  p.pad_right = pad + 1;  // asymmetric
  p.out_h = ConvOutputSize(h, p.kernel_h, stride, p.pad_top, p.pad_bottom, dilation);
  p.out_w = ConvOutputSize(w, k, stride, p.pad_left, p.pad_right, dilation);
  return p;
}

void Check(const Conv2dParams& p, QType xt, QType wt, bool per_channel, ThreadPool* pool,
           uint32_t seed) {
  SCOPED_TRACE(::testing::Message()
               << "N" << p.batch << " C" << p.in_channels << " " << p.in_h << "x" << p.in_w << " M"
               << p.out_channels << " k" << p.kernel_h << "x" << p.kernel_w << " g" << p.group
               << " s" << p.stride_w << " d" << p.dilation_w << " x_int8=" << (xt == QType::kInt8)
               << " w_int8=" << (wt == QType::kInt8));
  const std::vector<uint8_t> x = RandomBytes(p.batch * p.in_channels * p.in_h * p.in_w, seed);
  const std::vector<uint8_t> w =
      RandomBytes(p.out_channels * (p.in_channels / p.group) * p.kernel_h * p.kernel_w, seed + 1);
  std::vector<int32_t> wz(static_cast<size_t>(p.out_channels));
  for (size_t i = 0; i < wz.size(); ++i) {
    wz[i] = QMin(wt) + static_cast<int32_t>((i * 37 + seed) % 256);
  }
  const int32_t xz = xt == QType::kUint8 ? 200 : -100;
  const int64_t out = p.batch * p.out_channels * p.out_h * p.out_w;
  std::vector<int32_t> want(static_cast<size_t>(out));
  QConv2dInt32Reference(p, x.data(), xt, xz, w.data(), wt, wz.data(), per_channel, want.data());
  std::vector<float> scale(wz.size());
  std::vector<int32_t> bias(wz.size());
  for (size_t i = 0; i < wz.size(); ++i) {
    scale[i] = 1e-4f * static_cast<float>(1 + i % 5);
    bias[i] = static_cast<int32_t>(i * 1001) - 3000;
  }
  ForEachTarget([&] {
    const auto packed = PackedQConvWeights::Pack(p, w.data(), wt, wz.data(), per_channel);
    std::vector<int32_t> got(want.size(), -1);
    QConv2dInt32(p, x.data(), xt, xz, *packed, got.data(), pool);
    ASSERT_EQ(got, want);
    std::vector<uint8_t> q(want.size());
    QConv2d(p, x.data(), xt, xz, *packed, bias.data(), scale.data(), 7, QType::kUint8, q.data(),
            pool);
    const int64_t hw = p.out_h * p.out_w;
    for (int64_t i = 0; i < out; ++i) {
      const int64_t oc = i / hw % p.out_channels;
      const int32_t acc =
          static_cast<int32_t>(static_cast<uint32_t>(want[static_cast<size_t>(i)]) +
                               static_cast<uint32_t>(bias[static_cast<size_t>(oc)]));
      ASSERT_EQ(q[static_cast<size_t>(i)],
                RequantizeOneReference(acc, scale[static_cast<size_t>(oc)], 7, QType::kUint8))
          << i;
    }
  });
}

TEST(QConvTest, MatchesReference) {
  uint32_t seed = 10;
  const std::vector<Conv2dParams> cases = {
      Make(1, 3, 7, 9, 5, 3, 1, 1, 1, 1),      // plain 3x3, asymmetric pad
      Make(2, 4, 8, 8, 6, 3, 2, 2, 1, 1),      // groups, stride 2
      Make(1, 8, 10, 11, 8, 3, 8, 1, 1, 1),    // depthwise
      Make(1, 6, 9, 9, 12, 3, 6, 2, 2, 2),     // depthwise multiplier 2, dilation 2
      Make(3, 5, 6, 7, 17, 1, 1, 1, 0, 1),     // 1x1
      Make(1, 3, 1, 50, 4, 5, 1, 3, 2, 1),     // 1-D
      Make(1, 16, 12, 12, 33, 3, 1, 1, 1, 1),  // more pixels than a tile, N not a panel multiple
      Make(2, 1, 28, 28, 6, 5, 1, 1, 2, 1),    // LeNet conv1: 5-byte kernel rows
      Make(1, 2, 12, 13, 5, 7, 1, 1, 3, 1),    // 7-byte kernel rows
      Make(1, 3, 9, 10, 4, 4, 1, 1, 1, 1),     // 4-byte kernel rows (generic copy)
  };
  for (const Conv2dParams& p : cases) {
    for (QType xt : {QType::kUint8, QType::kInt8}) {
      for (QType wt : {QType::kUint8, QType::kInt8}) {
        Check(p, xt, wt, (seed % 2) == 0, nullptr, seed);
        ++seed;
      }
    }
  }
}

// General geometry: separate kernel, stride, pad and dilation per axis.
Conv2dParams MakeHw(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int64_t group,
                    int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                    int64_t dh, int64_t dw) {
  Conv2dParams p;
  p.batch = n;
  p.in_channels = c;
  p.in_h = h;
  p.in_w = w;
  p.out_channels = m;
  p.group = group;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.stride_h = sh;
  p.stride_w = sw;
  p.dilation_h = dh;
  p.dilation_w = dw;
  p.pad_top = ph;
  p.pad_bottom = ph + 1;
  p.pad_left = pw;
  p.pad_right = pw;
  p.out_h = ConvOutputSize(h, kh, sh, p.pad_top, p.pad_bottom, dh);
  p.out_w = ConvOutputSize(w, kw, sw, p.pad_left, p.pad_right, dw);
  return p;
}

// The im2col that writes QGemm's packed A directly gathers whole blocks of 4 or 8 pixels
// (stride_w 1, patches inside the image, at most two output rows per block, reads inside the
// input); these cover blocks on one row and split over two rows, out_w smaller than a block,
// the reads ending at the input's last byte, K % 4 of 0..3, pads, dilations, groups and
// strides that take the per-pixel path.
TEST(QConvTest, PackedIm2ColEdges) {
  uint32_t seed = 500;
  const std::vector<Conv2dParams> cases = {
      MakeHw(3, 6, 14, 14, 16, 1, 5, 5, 1, 1, 0, 0, 1, 1),  // LeNet conv2: 10-wide rows
      MakeHw(2, 1, 9, 9, 3, 1, 3, 3, 1, 1, 0, 0, 1, 1),     // K = 9, 7-wide rows
      MakeHw(2, 2, 6, 5, 4, 1, 2, 2, 1, 1, 0, 0, 1, 1),     // K = 8, 4-wide rows
      MakeHw(2, 3, 5, 4, 5, 1, 2, 2, 1, 1, 0, 0, 1, 1),     // 3-wide rows: blocks span 3 rows
      MakeHw(1, 2, 8, 17, 6, 1, 3, 2, 1, 1, 0, 0, 1, 1),    // K = 12, 16-wide rows
      MakeHw(2, 5, 11, 13, 7, 1, 3, 3, 1, 1, 1, 2, 1, 1),   // pads on both axes
      MakeHw(1, 4, 13, 15, 8, 2, 3, 3, 1, 1, 2, 2, 2, 3),   // groups, dilations 2 and 3
      MakeHw(2, 4, 12, 21, 6, 1, 3, 3, 2, 1, 1, 1, 1, 1),   // stride_h 2, stride_w 1
      MakeHw(1, 3, 10, 19, 5, 1, 3, 3, 1, 2, 1, 1, 1, 1),   // stride_w 2: per-pixel path
      MakeHw(2, 6, 9, 11, 6, 3, 1, 3, 1, 1, 0, 1, 1, 2),    // 1x3 kernel, K = 6 per group
      MakeHw(1, 3, 7, 30, 9, 1, 1, 1, 1, 1, 0, 0, 1, 1),    // 1x1, K = 3
      MakeHw(2, 1, 28, 28, 6, 1, 5, 5, 1, 1, 2, 2, 1, 1),   // LeNet conv1
  };
  for (const Conv2dParams& p : cases) {
    for (QType xt : {QType::kUint8, QType::kInt8}) {
      for (QType wt : {QType::kUint8, QType::kInt8}) {
        Check(p, xt, wt, (seed % 2) == 0, nullptr, seed);
        ++seed;
      }
    }
  }
}

TEST(QConvTest, ThreadsGiveSameBytes) {
  ThreadPool pool(3);
  Check(Make(2, 8, 14, 14, 16, 3, 1, 1, 1, 1), QType::kUint8, QType::kInt8, true, &pool, 77);
  Check(Make(1, 12, 9, 9, 12, 3, 12, 1, 1, 1), QType::kInt8, QType::kInt8, false, &pool, 78);
}

}  // namespace
}  // namespace mp::kernels
