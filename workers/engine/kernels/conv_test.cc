#include "workers/engine/kernels/conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "workers/engine/kernels/conv_internal.h"
#include "workers/engine/kernels/nn_test_util.h"
#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {
namespace {

using testing::ExpectNear;
using testing::ForEachTarget;
using testing::RandomVector;

struct Case {
  int64_t n, cin, h, w, cout, kh, kw, group;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t oph = 0, opw = 0;
};

Conv2dParams MakeParams(const Case& c, bool transpose) {
  Conv2dParams p;
  p.batch = c.n;
  p.in_channels = c.cin;
  p.in_h = c.h;
  p.in_w = c.w;
  p.out_channels = c.cout;
  p.kernel_h = c.kh;
  p.kernel_w = c.kw;
  p.group = c.group;
  p.stride_h = c.sh;
  p.stride_w = c.sw;
  p.dilation_h = c.dh;
  p.dilation_w = c.dw;
  p.pad_top = c.pt;
  p.pad_left = c.pl;
  p.pad_bottom = c.pb;
  p.pad_right = c.pr;
  p.output_padding_h = c.oph;
  p.output_padding_w = c.opw;
  if (transpose) {
    p.out_h = ConvTransposeOutputSize(c.h, c.kh, c.sh, c.pt, c.pb, c.dh, c.oph);
    p.out_w = ConvTransposeOutputSize(c.w, c.kw, c.sw, c.pl, c.pr, c.dw, c.opw);
  } else {
    p.out_h = ConvOutputSize(c.h, c.kh, c.sh, c.pt, c.pb, c.dh);
    p.out_w = ConvOutputSize(c.w, c.kw, c.sw, c.pl, c.pr, c.dw);
  }
  return p;
}

int64_t InSize(const Conv2dParams& p) { return p.batch * p.in_channels * p.in_h * p.in_w; }
int64_t OutSize(const Conv2dParams& p) { return p.batch * p.out_channels * p.out_h * p.out_w; }

TEST(ConvReference, HandComputed2x2) {
  Conv2dParams p = MakeParams({1, 1, 3, 3, 1, 2, 2, 1}, false);
  ASSERT_EQ(p.out_h, 2);
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> w = {1, 1, 1, 1};
  const float bias = 0.5f;
  std::vector<float> y(4);
  Conv2dReference(p, x.data(), w.data(), &bias, y.data());
  EXPECT_EQ(y, (std::vector<float>{12.5f, 16.5f, 24.5f, 28.5f}));
  // Pad 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1).
  p = MakeParams({1, 1, 3, 3, 1, 2, 2, 1, 2, 2, 1, 1, 1, 1, 1, 1}, false);
  ASSERT_EQ(p.out_h, 2);
  Conv2dReference(p, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 2 + 3, 4 + 7, 5 + 6 + 8 + 9}));
}

TEST(ConvReference, HandComputedTransposeStride2) {
  Conv2dParams p = MakeParams({1, 1, 2, 2, 1, 2, 2, 1, 2, 2}, true);
  ASSERT_EQ(p.out_h, 4);
  const std::vector<float> x = {1, 2, 3, 4};
  const std::vector<float> w = {1, 10, 100, 1000};
  std::vector<float> y(16);
  ConvTranspose2dReference(p, x.data(), w.data(), nullptr, y.data());
  const std::vector<float> want = {1, 10, 2, 20, 100, 1000, 200, 2000,
                                   3, 30, 4, 40, 300, 3000, 400, 4000};
  EXPECT_EQ(y, want);
}

// <Conv(x), y> == <x, ConvT(y)> for the same weights: the references are adjoint.
TEST(ConvReference, TransposeIsAdjoint) {
  const Case c{2, 4, 7, 6, 6, 3, 2, 2, 2, 1, 1, 2, 1, 0, 0, 2};
  const Conv2dParams fwd = MakeParams(c, false);
  Conv2dParams bwd = fwd;  // transpose geometry: in/out swapped, channels swapped
  std::swap(bwd.in_channels, bwd.out_channels);
  std::swap(bwd.in_h, bwd.out_h);
  std::swap(bwd.in_w, bwd.out_w);
  // ConvT's output size is ambiguous for stride 2; pick output_padding that reproduces h,w.
  bwd.output_padding_h =
      fwd.in_h - ConvTransposeOutputSize(fwd.out_h, c.kh, c.sh, c.pt, c.pb, c.dh, 0);
  bwd.output_padding_w =
      fwd.in_w - ConvTransposeOutputSize(fwd.out_w, c.kw, c.sw, c.pl, c.pr, c.dw, 0);
  ASSERT_GE(bwd.output_padding_h, 0);
  const auto x = RandomVector(InSize(fwd), 1);
  const auto yv = RandomVector(OutSize(fwd), 2);
  // Conv weight [Cout, Cin/G, kh, kw] is ConvT weight [C_in', C_out'/G, kh, kw] as is.
  const auto w = RandomVector(fwd.out_channels * (fwd.in_channels / c.group) * c.kh * c.kw, 3);
  std::vector<float> cx(OutSize(fwd)), ty(InSize(fwd));
  Conv2dReference(fwd, x.data(), w.data(), nullptr, cx.data());
  ConvTranspose2dReference(bwd, yv.data(), w.data(), nullptr, ty.data());
  double lhs = 0, rhs = 0;
  for (size_t i = 0; i < cx.size(); ++i) lhs += double{cx[i]} * yv[i];
  for (size_t i = 0; i < ty.size(); ++i) rhs += double{x[i]} * ty[i];
  EXPECT_NEAR(lhs, rhs, 1e-3);
}

const std::vector<Case>& ConvCases() {
  static const std::vector<Case> cases = {
      {1, 1, 28, 28, 6, 5, 5, 1},                            // LeNet conv1
      {2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // 3x3 pad 1, batch 2
      {1, 4, 7, 7, 6, 1, 1, 1},                              // 1x1 direct GEMM
      {2, 5, 8, 9, 7, 1, 1, 1, 2, 2},                        // 1x1 stride 2
      {1, 3, 15, 13, 4, 7, 7, 1, 2, 2, 1, 1, 3, 3, 3, 3},    // 7x7 stem
      {1, 6, 10, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 1, 0, 3},     // groups, dilation, asym pads
      {2, 8, 11, 13, 8, 3, 3, 8, 1, 1, 1, 1, 1, 1, 1, 1},    // depthwise 3x3
      {1, 5, 12, 17, 5, 3, 3, 5, 2, 2, 1, 1, 0, 1, 1, 0},    // depthwise stride 2
      {1, 3, 14, 14, 6, 5, 5, 3, 1, 1, 2, 2, 4, 4, 4, 4},    // depthwise x2 multiplier, dil 2
      {1, 4, 9, 37, 4, 7, 7, 4, 1, 1, 1, 1, 3, 3, 3, 3},     // depthwise 7x7
      {1, 2, 5, 41, 2, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1},     // depthwise stride 2, wide
      {1, 3, 1, 50, 4, 1, 5, 1, 1, 1, 1, 1, 0, 2, 0, 2},     // 1-D conv
      {1, 64, 20, 20, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // K=576: several column tiles
      {3, 2, 6, 6, 3, 6, 6, 1},                              // kernel == input: 1x1 output
      {1, 6, 9, 9, 4, 2, 3, 2, 3, 2, 1, 1, 1, 0, 2, 1},      // stride 3x2, 2x3 kernel
      {1, 8, 7, 7, 8, 3, 3, 8, 1, 1, 1, 1, 1, 1, 1, 1},      // depthwise 7x7 plane
      {2, 4, 14, 14, 4, 3, 3, 4, 2, 2, 1, 1, 0, 0, 1, 1},    // depthwise stride 2, 14x14
      {1, 3, 6, 70, 3, 5, 3, 3, 1, 1, 1, 3, 2, 0, 2, 4},     // depthwise dilation, wide
      {5, 2, 7, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // small K: direct, batch 5
      {5, 8, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // images share one GEMM tile
      {64, 6, 12, 12, 16, 5, 5, 1},                          // LeNet conv2, batch 64
      {1, 4, 10, 23, 4, 3, 3, 4, 1, 3, 1, 1, 1, 1, 1, 1},    // depthwise stride_w 3: one lane
      {2, 3, 9, 9, 5, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},      // small K: direct, 4+1 channels
      {2, 6, 9, 11, 8, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},     // direct, 4 channels per group
      // GEMM path: im2col panels with every geometry feature.
      {2, 12, 10, 9, 40, 3, 3, 2, 1, 1, 2, 2, 2, 1, 0, 3},   // groups, dilation, asym pads
      {3, 10, 9, 8, 33, 2, 3, 1, 3, 2, 1, 1, 1, 0, 2, 1},    // stride 3x2, 2x3 kernel
      {2, 40, 30, 31, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // image split into column tiles
      {7, 16, 5, 6, 20, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},    // 7 small images in one tile
      {1, 40, 5, 5, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // 1x1 with padding
      {6, 40, 3, 3, 12, 1, 1, 1},                            // 1x1, several images per tile
      {1, 5, 20, 45, 36, 7, 7, 1, 2, 2, 1, 1, 3, 3, 3, 3},   // 7x7 stride 2 stem, wide
      // Shifted planes: blocks of many images, the last one partial; geometry corners.
      {37, 3, 5, 6, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // 37 images, several blocks
      {300, 2, 4, 3, 5, 3, 3, 1, 2, 2, 1, 1, 1, 0, 1, 1},    // stride 2, many tiny images
      {3, 6, 5, 5, 10, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 3},     // 1x1: outputs in the padding
      {2, 4, 13, 11, 12, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2, 2},   // stride 2 and dilation 2
      {2, 3, 9, 10, 8, 2, 4, 1, 3, 2, 1, 3, 0, 4, 1, 0},     // stride 3x2, dilation 1x3
      {4, 9, 8, 8, 15, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     // groups, 5 outputs each
      {3, 4, 9, 9, 12, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1},     // depthwise x3: GEMM form
      {19, 20, 6, 6, 20, 3, 3, 20, 2, 2, 1, 1, 1, 1, 1, 1},  // depthwise, 20 channels
      {2, 1, 28, 28, 6, 5, 5, 1, 1, 1, 1, 1, 2, 2, 2, 2},    // LeNet conv1 as in the model
      {1, 130, 6, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // K = 1170: blocked GEMM path
      {1, 3, 160, 160, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // large image: im2col path
      // Pointwise (1x1, stride 1, no pad): x read in place, tiles across images.
      {5, 24, 7, 7, 20, 1, 1, 1},    // 20 rows, 49 outputs per image
      {3, 16, 4, 4, 13, 1, 1, 1},    // 16 outputs: one vector
      {4, 6, 14, 14, 10, 1, 1, 2},   // groups, 5 outputs each
      {1, 64, 14, 14, 64, 1, 1, 1},  // one image: rows split
      {2, 16, 3, 5, 24, 1, 1, 1},    // 15 outputs (< 16 lanes)
      // Depthwise row by row (conv_depthwise.cc): interior rows 4 at a time, edges.
      {2, 3, 20, 24, 3, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},  // dilation 2
      {1, 2, 30, 40, 2, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1},  // stride 2, 3 vectors per row
      {3, 4, 14, 14, 4, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1},  // MobileNet's 14x14 planes
      // Depthwise over flattened planes (conv_depthwise_flat.cc): rows <= half a vector.
      {2, 16, 4, 4, 16, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1},  // MobileNet's 4x4 planes
      {2, 5, 5, 6, 5, 5, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},     // 5x5 kernel, 30-float plane
      {1, 3, 9, 3, 3, 3, 3, 3, 1, 1, 2, 1, 2, 1, 2, 1},     // vertical dilation, narrow
      {2, 4, 6, 5, 4, 3, 3, 4, 1, 1, 1, 1, 2, 0, 0, 2},     // asymmetric "same" pads
      {1, 2, 40, 2, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},    // tall plane: many vectors
      {2, 3, 1, 7, 3, 1, 3, 3, 1, 1, 1, 1, 0, 1, 0, 1},     // 1-D rows
      // Channel-vectorised depthwise (conv_depthwise_cvec.cc): channels a multiple of lanes.
      {2, 16, 7, 7, 16, 3, 3, 16, 2, 2, 1, 1, 1, 1, 1, 1},    // stride 2 to 4x4
      {3, 32, 5, 6, 32, 3, 3, 32, 1, 1, 1, 1, 1, 1, 1, 1},    // 2 channel blocks, 5x6
      {2, 16, 9, 8, 16, 3, 3, 16, 1, 2, 2, 1, 2, 0, 1, 2},    // dilation, asymmetric pads
      {2, 16, 11, 11, 16, 5, 5, 16, 2, 2, 1, 1, 2, 2, 2, 2},  // 5x5 kernel, stride 2
      {1, 48, 14, 13, 48, 3, 3, 48, 2, 1, 1, 1, 1, 1, 1, 1},  // strides 2x1, odd width
      // Channel-vectorised (conv_cvec.cc, AVX2 and AVX-512): small output planes, C_out a
      // multiple of the lanes; with fewer than 2 images per thread the GEMM form (same bytes).
      {4, 8, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // 7x7, 2 channel vectors
      {3, 6, 14, 14, 48, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},  // stride 2, 3 channel vectors
      {5, 4, 6, 7, 64, 3, 2, 1, 1, 1, 2, 1, 2, 1, 2, 0},    // dilation, asymmetric pads
      {7, 3, 5, 5, 32, 5, 5, 1, 1, 1, 1, 1, 2, 2, 2, 2},    // 5x5 kernel
      {6, 16, 9, 9, 32, 3, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1},   // stride 3: 3x3 outputs
      {37, 4, 7, 7, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   // blocks, the last partial
      // Winograd F(2x2, 3x3) (conv_winograd.cc, x86 AVX2): 3x3 stride 1, planes >= 10.
      {3, 8, 10, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // the smallest taken
      {2, 12, 13, 15, 9, 3, 3, 1},                           // no pads, odd 11x13, C_out 9
      {1, 10, 12, 16, 20, 3, 3, 1, 1, 1, 1, 1, 2, 1, 0, 2},  // asymmetric pads: 12x17
      {5, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // chunks across images
      {2, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // chunks inside an image
      {1, 9, 11, 40, 12, 3, 3, 1, 1, 1, 1, 1, 3, 3, 3, 3},   // pads 3: outputs in padding
      // Strided pointwise (1x1, stride > 1, no pad): sampled blocks, then PointwiseConv2d.
      {23, 16, 28, 28, 32, 1, 1, 1, 2, 2},  // ResNet's shortcut; blocks, the last partial
      {3, 5, 13, 17, 7, 1, 1, 1, 3, 2},     // strides 3x2, odd sizes: 5x9 outputs
      {2, 8, 9, 40, 6, 1, 1, 2, 1, 4},      // groups, stride_w only
  };
  return cases;
}

void CheckConv(const Case& c, bool with_bias, float act_min, float act_max) {
  Conv2dParams p = MakeParams(c, false);
  p.act_min = act_min;
  p.act_max = act_max;
  SCOPED_TRACE(::testing::Message()
               << "cin=" << c.cin << " h=" << c.h << " w=" << c.w << " cout=" << c.cout
               << " k=" << c.kh << "x" << c.kw << " g=" << c.group << " s=" << c.sh);
  const int64_t k = (c.cin / c.group) * c.kh * c.kw;
  const auto x = RandomVector(InSize(p), 10);
  const auto w = RandomVector(c.cout * k, 11);
  const auto b = RandomVector(c.cout, 12);
  const float* bias = with_bias ? b.data() : nullptr;
  std::vector<float> want(OutSize(p));
  Conv2dReference(p, x.data(), w.data(), bias, want.data());
  const float tol = 2e-6f * static_cast<float>(k) + 1e-5f;
  ForEachTarget([&] {
    std::vector<float> got(OutSize(p), -7.0f);
    Conv2d(p, x.data(), w.data(), bias, got.data());
    ExpectNear(got, want, tol, 1e-5f);
  });
}

TEST(Conv2d, MatchesReferenceOnEveryTarget) {
  for (const Case& c : ConvCases()) CheckConv(c, true, -INFINITY, INFINITY);
}

TEST(Conv2d, NoBiasAndFusedClamp) {
  for (const Case& c : ConvCases()) {
    CheckConv(c, false, -INFINITY, INFINITY);
    CheckConv(c, true, 0.0f, 0.5f);
  }
}

// y = clamp(conv + bias + residual) against the reference conv plus the residual.
TEST(Conv2d, FusedResidualAddAndClamp) {
  ThreadPool two(2), three(3);
  for (const Case& c : ConvCases()) {
    Conv2dParams p = MakeParams(c, false);
    SCOPED_TRACE(::testing::Message() << "cin=" << c.cin << " h=" << c.h << " cout=" << c.cout
                                      << " k=" << c.kh << " g=" << c.group << " n=" << c.n);
    const int64_t k = (c.cin / c.group) * c.kh * c.kw;
    const auto x = RandomVector(InSize(p), 60);
    const auto w = RandomVector(c.cout * k, 61);
    const auto b = RandomVector(c.cout, 62);
    const auto r = RandomVector(OutSize(p), 63);
    std::vector<float> want(OutSize(p));
    Conv2dReference(p, x.data(), w.data(), b.data(), want.data());
    p.act_min = -0.25f;
    p.act_max = 1.5f;
    for (size_t i = 0; i < want.size(); ++i) {
      want[i] = std::min(std::max(want[i] + r[i], p.act_min), p.act_max);
    }
    const float tol = 2e-6f * static_cast<float>(k) + 1e-5f;
    ForEachTarget([&] {
      const std::unique_ptr<PackedConvWeights> packed = PackedConvWeights::Pack(p, w.data());
      std::vector<float> one(OutSize(p), 9.0f);
      Conv2d(p, x.data(), w.data(), b.data(), one.data(), nullptr, packed.get(), r.data());
      ExpectNear(one, want, tol, 1e-5f);
      for (ThreadPool* pool : {&two, &three}) {
        std::vector<float> got(OutSize(p), -9.0f);
        Conv2d(p, x.data(), w.data(), b.data(), got.data(), pool, packed.get(), r.data());
        EXPECT_TRUE(testing::SameBits(got, one)) << "threads=" << pool->num_threads();
      }
    });
  }
}

// The flat depthwise path runs on x86 targets with masked loads (AVX2 and better).
TEST(Conv2d, DepthwiseFlatPathIsTaken) {
  const Conv2dParams p = MakeParams({2, 16, 4, 4, 16, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1}, false);
  int taken = 0;
  ForEachTarget([&] { taken += conv_internal::UseDepthwiseFlat(p) ? 1 : 0; });
#if HWY_ARCH_X86
  if ((hwy::SupportedTargets() & HWY_AVX2) != 0) {
    EXPECT_GT(taken, 0);
  }
#endif
  // Not for strides, nor for padding that changes the plane's shape.
  Conv2dParams strided = MakeParams({1, 4, 7, 7, 4, 3, 3, 4, 2, 2, 1, 1, 1, 1, 1, 1}, false);
  Conv2dParams valid = MakeParams({1, 4, 7, 7, 4, 3, 3, 4, 1, 1, 1, 1, 0, 0, 0, 0}, false);
  ForEachTarget([&] {
    EXPECT_FALSE(conv_internal::UseDepthwiseFlat(strided));
    EXPECT_FALSE(conv_internal::UseDepthwiseFlat(valid));
  });
}

// The channel-vectorised depthwise path runs on x86 AVX2 and AVX-512 for channel counts
// that are a multiple of the lanes.
TEST(Conv2d, DepthwiseCvecPathIsTaken) {
  const Conv2dParams p = MakeParams({2, 16, 7, 7, 16, 3, 3, 16, 2, 2, 1, 1, 1, 1, 1, 1}, false);
  const Conv2dParams odd = MakeParams({2, 20, 7, 7, 20, 3, 3, 20, 2, 2, 1, 1, 1, 1, 1, 1}, false);
  int taken = 0;
  ForEachTarget([&] {
    taken += conv_internal::UseDepthwiseCvec(p) ? 1 : 0;
    EXPECT_FALSE(conv_internal::UseDepthwiseCvec(odd));
  });
#if HWY_ARCH_X86
  if ((hwy::SupportedTargets() & HWY_AVX2) != 0) {
    EXPECT_GT(taken, 0);
  }
#endif
}

// The channel-vectorised path runs on x86 AVX2 and AVX-512 with two images per thread.
TEST(Conv2d, CvecPathIsTaken) {
  const Conv2dParams p = MakeParams({4, 8, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, false);
  ThreadPool three(3);
  int taken = 0;
  ForEachTarget([&] {
    taken += conv_internal::UseCvec(p, nullptr) ? 1 : 0;
    EXPECT_FALSE(conv_internal::UseCvec(p, &three));  // 4 images < 2 per thread
  });
#if HWY_ARCH_X86
  if ((hwy::SupportedTargets() & HWY_AVX2) != 0) {
    EXPECT_GT(taken, 0);
  }
#endif
}

// The Winograd path runs on x86 AVX2 and AVX-512 for 3x3 stride-1 convolutions with enough
// channels (8 and 32) and large enough planes; not for strides, dilations, groups, other
// kernels or small shapes.
TEST(Conv2d, WinogradPathIsTaken) {
  const Conv2dParams p = MakeParams({2, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, false);
  const Conv2dParams narrow =
      MakeParams({2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, false);
  const Case declined[] = {
      {2, 16, 14, 14, 32, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},  // stride 2
      {2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2},  // dilation 2
      {2, 16, 14, 14, 32, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},  // groups
      {2, 16, 14, 14, 32, 5, 5, 1, 1, 1, 1, 1, 2, 2, 2, 2},  // 5x5
      {2, 16, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // 7x7 plane
      {2, 4, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   // 4 input channels
      {1, 300, 14, 14, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // 300 input channels
  };
  int taken = 0, narrow_taken = 0;
  ForEachTarget([&] {
    taken += conv_internal::UseWinograd(p) ? 1 : 0;
    narrow_taken += conv_internal::UseWinograd(narrow) ? 1 : 0;
    for (const Case& c : declined) EXPECT_FALSE(conv_internal::UseWinograd(MakeParams(c, false)));
  });
  int avx2 = 0, avx512 = 0;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    avx2 += target == HWY_AVX2 ? 1 : 0;
    avx512 += target == HWY_AVX3 || target == HWY_AVX3_DL ? 1 : 0;
  }
  EXPECT_EQ(narrow_taken, avx2);  // 16 channels: AVX2 only
  EXPECT_EQ(taken, avx2 + avx512);
}

// 1x1 convolutions with strides and no padding are sampled and run by the pointwise kernel.
TEST(Conv2d, StridedPointwisePathIsTaken) {
  const Conv2dParams p = MakeParams({2, 16, 28, 28, 32, 1, 1, 1, 2, 2}, false);
  const Conv2dParams padded =
      MakeParams({2, 16, 28, 28, 32, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1}, false);
  const Conv2dParams unit = MakeParams({2, 16, 28, 28, 32, 1, 1, 1}, false);
  const Conv2dParams three = MakeParams({2, 16, 28, 28, 32, 3, 3, 1, 2, 2}, false);
  ForEachTarget([&] {
    EXPECT_TRUE(conv_internal::UseStridedPointwise(p));
    EXPECT_FALSE(conv_internal::UseStridedPointwise(padded));
    EXPECT_FALSE(conv_internal::UseStridedPointwise(unit));
    EXPECT_FALSE(conv_internal::UseStridedPointwise(three));
  });
}

// Winograd reassociates the sum: its error against an exact (double) convolution stays at
// rounding level, within a small factor of the direct fp32 reference's own error.
TEST(Conv2d, WinogradErrorIsRoundingLevel) {
  for (const Case& c : {Case{4, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                        Case{2, 64, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}}) {
    const Conv2dParams p = MakeParams(c, false);
    const auto x = RandomVector(InSize(p), 70);
    const auto w = RandomVector(c.cout * c.cin * 9, 71);
    const auto b = RandomVector(c.cout, 72);
    std::vector<double> exact(static_cast<size_t>(OutSize(p)));
    for (int64_t n = 0; n < p.batch; ++n) {
      for (int64_t o = 0; o < p.out_channels; ++o) {
        for (int64_t oh = 0; oh < p.out_h; ++oh) {
          for (int64_t ow = 0; ow < p.out_w; ++ow) {
            double sum = b[static_cast<size_t>(o)];
            for (int64_t ci = 0; ci < p.in_channels; ++ci) {
              for (int64_t i = 0; i < 3; ++i) {
                for (int64_t j = 0; j < 3; ++j) {
                  const int64_t ih = oh - p.pad_top + i, iw = ow - p.pad_left + j;
                  if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
                  sum +=
                      double{w[static_cast<size_t>(((o * p.in_channels + ci) * 3 + i) * 3 + j)]} *
                      x[static_cast<size_t>(((n * p.in_channels + ci) * p.in_h + ih) * p.in_w +
                                            iw)];
                }
              }
            }
            exact[static_cast<size_t>(((n * p.out_channels + o) * p.out_h + oh) * p.out_w + ow)] =
                sum;
          }
        }
      }
    }
    auto max_error = [&](const std::vector<float>& got) {
      double e = 0;
      for (size_t i = 0; i < got.size(); ++i) e = std::max(e, std::abs(got[i] - exact[i]));
      return e;
    };
    std::vector<float> ref(static_cast<size_t>(OutSize(p)));
    Conv2dReference(p, x.data(), w.data(), b.data(), ref.data());
    const double ref_error = max_error(ref);
    ForEachTarget([&] {
      std::vector<float> got(static_cast<size_t>(OutSize(p)));
      Conv2d(p, x.data(), w.data(), b.data(), got.data());
      EXPECT_LE(max_error(got), 8 * ref_error + 1e-6) << "reference error " << ref_error;
    });
  }
}

TEST(Conv2d, ThreadCountInvariant) {
  ThreadPool one(1), two(2), three(3);
  for (const Case& c : ConvCases()) {
    const Conv2dParams p = MakeParams(c, false);
    const int64_t k = (c.cin / c.group) * c.kh * c.kw;
    const auto x = RandomVector(InSize(p), 20);
    const auto w = RandomVector(c.cout * k, 21);
    const auto b = RandomVector(c.cout, 22);
    std::vector<float> y0(OutSize(p)), y1(OutSize(p)), y2(OutSize(p)), y3(OutSize(p));
    Conv2d(p, x.data(), w.data(), b.data(), y0.data());
    Conv2d(p, x.data(), w.data(), b.data(), y1.data(), &one);
    Conv2d(p, x.data(), w.data(), b.data(), y2.data(), &two);
    Conv2d(p, x.data(), w.data(), b.data(), y3.data(), &three);
    EXPECT_EQ(0, std::memcmp(y0.data(), y1.data(), y0.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(y1.data(), y3.data(), y1.size() * sizeof(float)));
  }
}

TEST(Conv2d, PackedWeightsMatchUnpackedBitwise) {
  ThreadPool two(2), three(3);
  for (const Case& c : ConvCases()) {
    const Conv2dParams p = MakeParams(c, false);
    const int64_t k = (c.cin / c.group) * c.kh * c.kw;
    const auto x = RandomVector(InSize(p), 50);
    const auto w = RandomVector(c.cout * k, 51);
    const auto b = RandomVector(c.cout, 52);
    ForEachTarget([&] {
      // Packed on the selected target, as the exec op does at prepare.
      const std::unique_ptr<PackedConvWeights> packed = PackedConvWeights::Pack(p, w.data());
      // Weights read as given: the 1-D filter (one input channel, < 4 outputs per group)
      // and the direct loops (<= 4 outputs per group, K <= 32).
      const int64_t cin_g = c.cin / c.group, cout_g = c.cout / c.group;
      const bool unpacked = (cin_g == 1 && cout_g < 4) || (cout_g <= 4 && k <= 32);
      EXPECT_EQ(packed == nullptr, unpacked) << "cin=" << c.cin << " k=" << k;
      std::vector<float> want(OutSize(p)), got(OutSize(p));
      Conv2d(p, x.data(), w.data(), b.data(), want.data());
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two, &three}) {
        std::fill(got.begin(), got.end(), -5.0f);
        Conv2d(p, x.data(), w.data(), b.data(), got.data(), pool, packed.get());
        EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
            << "cin=" << c.cin << " h=" << c.h << " cout=" << c.cout << " k=" << c.kh
            << " threads=" << (pool ? pool->num_threads() : 1);
      }
    });
  }
}

const std::vector<Case>& TransposeCases() {
  static const std::vector<Case> cases = {
      {1, 2, 3, 3, 3, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 4, 5, 4, 6, 2, 3, 2, 2, 1, 1, 2, 0, 1, 1, 0, 1, 0},
      {1, 3, 4, 4, 5, 1, 1, 1},
      {1, 6, 3, 5, 6, 4, 4, 6, 2, 2, 1, 1, 1, 1, 1, 1},        // depthwise upsampling
      {1, 5, 1, 9, 2, 1, 5, 1, 3, 3, 1, 1, 0, 2, 0, 1, 0, 2},  // 1-D
  };
  return cases;
}

TEST(ConvTranspose2d, MatchesReferenceOnEveryTarget) {
  ThreadPool two(2);
  for (const Case& c : TransposeCases()) {
    Conv2dParams p = MakeParams(c, true);
    p.act_min = -0.8f;
    const int64_t wsize = c.cin * (c.cout / c.group) * c.kh * c.kw;
    const auto x = RandomVector(InSize(p), 30);
    const auto w = RandomVector(wsize, 31);
    const auto b = RandomVector(c.cout, 32);
    std::vector<float> want(OutSize(p));
    ConvTranspose2dReference(p, x.data(), w.data(), b.data(), want.data());
    std::vector<float> serial(OutSize(p));
    ConvTranspose2d(p, x.data(), w.data(), b.data(), serial.data());
    ForEachTarget([&] {
      std::vector<float> got(OutSize(p), 3.0f);
      ConvTranspose2d(p, x.data(), w.data(), b.data(), got.data());
      ExpectNear(got, want, 1e-4f, 1e-5f);
    });
    std::vector<float> threaded(OutSize(p));
    ConvTranspose2d(p, x.data(), w.data(), b.data(), threaded.data(), &two);
    EXPECT_EQ(0, std::memcmp(serial.data(), threaded.data(), serial.size() * sizeof(float)));
  }
}

TEST(Im2Col, TileMatchesWholeImage) {
  const Conv2dParams p = MakeParams({1, 3, 7, 8, 1, 3, 2, 1, 2, 1, 1, 2, 1, 0, 2, 1}, false);
  const int64_t rows = 3 * 3 * 2, cols = p.out_h * p.out_w;
  const auto x = RandomVector(InSize(p), 40);
  std::vector<float> whole(rows * cols), part(rows * 5);
  Im2Col(p, 3, x.data(), 0, cols, whole.data(), cols);
  for (int64_t begin = 0; begin < cols; begin += 5) {
    const int64_t end = std::min(cols, begin + 5);
    Im2Col(p, 3, x.data(), begin, end, part.data(), 5);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t t = begin; t < end; ++t) {
        ASSERT_EQ(part[r * 5 + t - begin], whole[r * cols + t]) << r << " " << t;
      }
    }
  }
}

}  // namespace
}  // namespace mp::kernels
