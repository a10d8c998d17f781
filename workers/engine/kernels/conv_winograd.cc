// Winograd F(2x2, 3x3) convolution: Conv2d's path for 3x3, stride-1 convolutions with enough
// channels (see conv_internal.h, UseWinograd).
//
// Each 2x2 block of outputs (a tile) of output channel o is (Lavin & Gray, 2016)
//   Y = A^T [ sum_c U[o][c] (.) V[c] ] A + bias[o],
//   U[o][c] = G g[o][c] G^T (4x4, from the 3x3 weights; computed in double, rounded once),
//   V[c] = B^T d[c] B (d: the 4x4 zero-padded input patch under the tile),
// 16 multiplies per 4 outputs and input channel instead of 36. The sum over c is 16
// independent GEMMs, one per element xi of the 4x4 transform domain, over a chunk of tiles:
//   M[xi][o][t] = sum_c U[xi][o][c] * V[xi][c][t].
// Vector lanes run over tiles throughout: the input transform reads a 4-row strip of the
// padded input with deinterleaving loads (a tile steps 2 columns), the GEMM's register tile
// is 4 output channels by NV vectors of tiles (each multiply-add: a broadcast weight and a
// vector of V), and the output transform writes each 2x2 result with interleaving stores
// into a 2-row strip that is copied to y (adding the residual and clamping).
//
// A chunk is a run of consecutive tile rows (over images, then rows) whose V and M fit in L2;
// chunks are the unit of work for the pool. Every output is one fixed sequence of operations
// whatever the chunk or thread, so results are bit-identical for any thread count. They are
// not bit-identical to the direct paths: the transforms reassociate the sum (conv.h).
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv_winograd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// Must follow highway.h (per-target header).
#include "workers/engine/kernels/conv_span-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
// Tile vectors per register tile: 4 x kNV accumulators within 32 (AVX-512) or 16 registers.
constexpr int kNV = HWY_MAX_BYTES >= 64 ? 6 : 3;
constexpr int64_t kRows = conv_internal::kWinogradPanel;  // output channels per panel

// m[(r)*mp + n*L + l] = sum_c u[c*4 + r] * v[c*vp + n*L + l] for r < 4, n < NV.
template <int NV>
HWY_INLINE void Gemm4(const float* HWY_RESTRICT u, const float* HWY_RESTRICT v, int64_t vp,
                      int64_t cin, float* HWY_RESTRICT m, int64_t mp) {
  const D d;
  constexpr int64_t kL = static_cast<int64_t>(hn::MaxLanes(D()));
  V acc[kRows][NV];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 6
    for (int n = 0; n < NV; ++n) acc[r][n] = hn::Zero(d);
  }
  for (int64_t c = 0; c < cin; ++c) {
    V b[NV];
#pragma GCC unroll 6
    for (int n = 0; n < NV; ++n) b[n] = hn::LoadU(d, v + c * vp + n * kL);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const V a = hn::Set(d, u[c * kRows + r]);
#pragma GCC unroll 6
      for (int n = 0; n < NV; ++n) acc[r][n] = hn::MulAdd(a, b[n], acc[r][n]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 6
    for (int n = 0; n < NV; ++n) hn::StoreU(acc[r][n], d, m + r * mp + n * kL);
  }
}

// Calls fn(img, th0, th1, seg) for the pieces of tile rows [gr0, gr1) (tile row gr is row
// gr % tiles_h of image gr / tiles_h): rows [th0, th1) of one image, whose staged segments
// are seg .. seg + th1 - th0 (one more than rows: the last feeds the row above it only).
// Returns the number of segments.
template <typename Fn>
HWY_INLINE int64_t ForEachPiece(int64_t tiles_h, int64_t gr0, int64_t gr1, const Fn& fn) {
  int64_t seg = 0;
  for (int64_t gr = gr0; gr < gr1;) {
    const int64_t img = gr / tiles_h, th0 = gr % tiles_h;
    const int64_t th1 = std::min(tiles_h, th0 + (gr1 - gr));
    fn(img, th0, th1, seg);
    seg += th1 - th0 + 1;
    gr += th1 - th0;
  }
  return seg;
}

// The whole of one chunk: tile rows [gr0, gr1) of all output channels. u:
// PackWinogradWeights' layout.
//
// Staging: per input channel, two rows of segments (even and odd padded rows): segment s of
// piece (img, th0, th1) is padded row 2*(th0 + s - seg) + a of the image in row a, wp = 2 *
// tiles_w + 2 floats (the padded width, rounded up to the tiles). Tile slot q = s*(tiles_w +
// 1) + tw then reads its 4x4 patch's rows 0..3 at 2q of row 0, row 1, row 0 + wp, row 1 +
// wp: consecutive slots are consecutive tiles, so vectors run over tiles across tile rows
// and images (slots tw = tiles_w and the last segment of each piece but the chunk's last are
// computed and dropped).
void WinogradChunkImpl(const Conv2dParams& p, const float* x, const float* u, const float* bias,
                       const float* residual, float* y, int64_t gr0, int64_t gr1) {
  const D d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t cin = p.in_channels, cout = p.out_channels;
  const int64_t cout_pad = conv_internal::RoundUp(cout, kRows), panels = cout_pad / kRows;
  const int64_t tiles_h = (p.out_h + 1) / 2, tiles_w = (p.out_w + 1) / 2;
  const int64_t wp = 2 * tiles_w + 2;
  const int64_t segs = ForEachPiece(tiles_h, gr0, gr1, [](int64_t, int64_t, int64_t, int64_t) {});
  // Tile slots computed: all but the last segment's (which only feeds the row above it).
  const int64_t qv = conv_internal::RoundUp((segs - 1) * (tiles_w + 1), lanes);
  const int64_t rl = wp + 2 * qv + 2;  // staged row: every deinterleaving load stays inside
  float* staged = conv_internal::Scratch(static_cast<size_t>(2 * cin * rl + 4 * qv), 1);
  float* out = staged + 2 * cin * rl;  // 2 output rows of 2 * qv
  // V[xi] and M[xi] are vx and mx floats apart: one cache line more than their data, so the
  // 16 streams of a transform do not fall into the same cache sets.
  const int64_t vx = cin * qv + 16, mx = cout_pad * qv + 16;
  float* vbuf = conv_internal::Scratch(static_cast<size_t>(16 * (vx + mx)), 0);
  float* mbuf = vbuf + 16 * vx;

  std::memset(staged, 0, static_cast<size_t>(2 * cin * rl) * sizeof(float));
  ForEachPiece(tiles_h, gr0, gr1, [&](int64_t img, int64_t th0, int64_t th1, int64_t seg) {
    const int64_t r0 = std::max<int64_t>(2 * th0, p.pad_top);
    const int64_t r1 = std::min<int64_t>(2 * th1 + 2, p.pad_top + p.in_h);
    for (int64_t c = 0; c < cin; ++c) {
      const float* xc = x + (img * cin + c) * p.in_h * p.in_w;
      float* sc = staged + 2 * c * rl + p.pad_left;
      for (int64_t r = r0; r < r1; ++r) {
        span::CopySpan(xc + (r - p.pad_top) * p.in_w, sc + (r % 2) * rl + (seg + r / 2 - th0) * wp,
                       p.in_w);
      }
    }
  });

  // Input transform: V[xi][c][q], xi = 4k + l.
  for (int64_t c = 0; c < cin; ++c) {
    const float* row0 = staged + 2 * c * rl;
    const float* rows[4] = {row0, row0 + rl, row0 + wp, row0 + rl + wp};
    float* vc = vbuf + c * qv;
    for (int64_t q = 0; q < qv; q += lanes) {
      V h[4][4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        V e0, o0, e1, o1;  // columns 0, 1, 2, 3 of the patch
        hn::LoadInterleaved2(d, rows[i] + 2 * q, e0, o0);
        hn::LoadInterleaved2(d, rows[i] + 2 * q + 2, e1, o1);
        h[i][0] = hn::Sub(e0, e1);
        h[i][1] = hn::Add(o0, e1);
        h[i][2] = hn::Sub(e1, o0);
        h[i][3] = hn::Sub(o0, o1);
      }
      const int64_t step = 4 * vx;  // from V[k][l] to V[k + 1][l]
#pragma GCC unroll 4
      for (int l = 0; l < 4; ++l) {
        float* at = vc + l * vx + q;
        hn::StoreU(hn::Sub(h[0][l], h[2][l]), d, at);
        hn::StoreU(hn::Add(h[1][l], h[2][l]), d, at + step);
        hn::StoreU(hn::Sub(h[2][l], h[1][l]), d, at + 2 * step);
        hn::StoreU(hn::Sub(h[1][l], h[3][l]), d, at + 3 * step);
      }
    }
  }

  // 16 GEMMs: M[xi][o][q] for o < cout_pad, q < qv.
  for (int64_t xi = 0; xi < 16; ++xi) {
    const float* v = vbuf + xi * vx;
    for (int64_t pnl = 0; pnl < panels; ++pnl) {
      const float* up = u + (xi * panels + pnl) * cin * kRows;
      float* m = mbuf + xi * mx + pnl * kRows * qv;
      for (int64_t t = 0; t < qv;) {
        const int64_t nv = std::min<int64_t>(kNV, (qv - t) / lanes);
        switch (nv) {
          case 6:
            Gemm4<HWY_MIN(6, kNV)>(up, v + t, qv, cin, m + t, qv);
            break;
          case 5:
            Gemm4<HWY_MIN(5, kNV)>(up, v + t, qv, cin, m + t, qv);
            break;
          case 4:
            Gemm4<HWY_MIN(4, kNV)>(up, v + t, qv, cin, m + t, qv);
            break;
          case 3:
            Gemm4<3>(up, v + t, qv, cin, m + t, qv);
            break;
          case 2:
            Gemm4<2>(up, v + t, qv, cin, m + t, qv);
            break;
          default:
            Gemm4<1>(up, v + t, qv, cin, m + t, qv);
            break;
        }
        t += nv * lanes;
      }
    }
  }

  // Output transform into two rows of segments (like the staging), then y.
  // With a residual, AddClampSpan clamps after adding it.
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const V vlo = hn::Set(d, residual != nullptr ? -kInf : p.act_min);
  const V vhi = hn::Set(d, residual != nullptr ? kInf : p.act_max);
  const int64_t step = mx;  // from M[xi][o] to M[xi + 1][o]
  for (int64_t o = 0; o < cout; ++o) {
    const float* mo = mbuf + o * qv;
    const V b = hn::Set(d, bias != nullptr ? bias[o] : 0.0f);
    for (int64_t q = 0; q < qv; q += lanes) {
      V s[2][4];
#pragma GCC unroll 4
      for (int l = 0; l < 4; ++l) {
        const float* at = mo + l * step + q;
        const V m0 = hn::LoadU(d, at), m1 = hn::LoadU(d, at + 4 * step);
        const V m2 = hn::LoadU(d, at + 8 * step), m3 = hn::LoadU(d, at + 12 * step);
        s[0][l] = hn::Add(hn::Add(m0, m1), m2);
        s[1][l] = hn::Sub(hn::Sub(m1, m2), m3);
      }
#pragma GCC unroll 2
      for (int a = 0; a < 2; ++a) {
        const V y0 = hn::Add(hn::Add(hn::Add(s[a][0], s[a][1]), s[a][2]), b);
        const V y1 = hn::Add(hn::Sub(hn::Sub(s[a][1], s[a][2]), s[a][3]), b);
        hn::StoreInterleaved2(hn::Min(hn::Max(y0, vlo), vhi), hn::Min(hn::Max(y1, vlo), vhi), d,
                              out + a * 2 * qv + 2 * q);
      }
    }
    ForEachPiece(tiles_h, gr0, gr1, [&](int64_t img, int64_t th0, int64_t th1, int64_t seg) {
      for (int64_t th = th0; th < th1; ++th) {
        const float* src = out + (seg + th - th0) * wp;
        for (int64_t a = 0; a < std::min<int64_t>(2, p.out_h - 2 * th); ++a) {
          const int64_t at = ((img * cout + o) * p.out_h + 2 * th + a) * p.out_w;
          if (residual != nullptr) {
            span::AddClampSpan(src + a * 2 * qv, residual + at, p.act_min, p.act_max, y + at,
                               p.out_w);
          } else {
            span::CopySpan(src + a * 2 * qv, y + at, p.out_w);
          }
        }
      }
    });
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(WinogradChunkImpl);

namespace conv_internal {
namespace {

// V and M of a chunk (16 * (C_in + C_out) floats per tile) aim for this many floats (L2).
constexpr int64_t kChunkFloats = int64_t{96} << 10;

int64_t Panels(const Conv2dParams& p) {
  return (p.out_channels + kWinogradPanel - 1) / kWinogradPanel;
}

}  // namespace

bool UseWinograd(const Conv2dParams& p) {
  if (p.group != 1 || p.kernel_h != 3 || p.kernel_w != 3 || p.stride_h != 1 || p.stride_w != 1 ||
      p.dilation_h != 1 || p.dilation_w != 1 || p.out_h < kWinogradMinPlane ||
      p.out_w < kWinogradMinPlane || p.in_channels > kWinogradMaxChannels ||
      p.out_channels > kWinogradMaxChannels) {
    return false;
  }
  // Measured faster than the direct paths on x86 AVX2 (8 lanes) from 8 channels; on AVX-512
  // the channel-vectorised path (conv_cvec.cc) is as fast below 32 channels, where the
  // transforms weigh more against the GEMMs.
  const int64_t lanes = X86VectorLanes();
  const int64_t min_channels = lanes == 8 ? 8 : lanes == 16 ? 32 : 0;
  return min_channels > 0 && p.in_channels >= min_channels && p.out_channels >= min_channels;
}

std::vector<float> PackWinogradWeights(const Conv2dParams& p, const float* w) {
  const int64_t cin = p.in_channels, panels = Panels(p);
  std::vector<float> packed(static_cast<size_t>(16 * panels * kWinogradPanel * cin), 0.0f);
  float* out = packed.data();
  // G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
  static constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  for (int64_t o = 0; o < p.out_channels; ++o) {
    for (int64_t c = 0; c < cin; ++c) {
      const float* g = w + (o * cin + c) * 9;
      double gg[4][3];  // G g
      for (int k = 0; k < 4; ++k) {
        for (int j = 0; j < 3; ++j) {
          gg[k][j] = kG[k][0] * g[j] + kG[k][1] * g[3 + j] + kG[k][2] * g[6 + j];
        }
      }
      for (int k = 0; k < 4; ++k) {
        for (int l = 0; l < 4; ++l) {
          const double v = gg[k][0] * kG[l][0] + gg[k][1] * kG[l][1] + gg[k][2] * kG[l][2];
          const int64_t xi = 4 * k + l;
          out[((xi * panels + o / kWinogradPanel) * cin + c) * kWinogradPanel +
              o % kWinogradPanel] = static_cast<float>(v);
        }
      }
    }
  }
  return packed;
}

void WinogradConv2d(const Conv2dParams& p, const float* x, const float* u, const float* bias,
                    float* y, ThreadPool* pool, const float* residual) {
  const int64_t tiles_h = (p.out_h + 1) / 2, tiles_w = (p.out_w + 1) / 2;
  const int64_t rows = p.batch * tiles_h;
  const int64_t per_tile = 16 * (p.in_channels + Panels(p) * kWinogradPanel);
  int64_t chunk = std::max<int64_t>(1, kChunkFloats / per_tile / (tiles_w + 1));
  const int64_t threads = pool != nullptr ? pool->num_threads() : 1;
  // Enough chunks for every thread (the chunking does not change any output).
  chunk = std::min(chunk, std::max<int64_t>(1, (rows + threads - 1) / threads));
  const int64_t chunks = (rows + chunk - 1) / chunk;
  const auto kernel = HWY_DYNAMIC_DISPATCH(WinogradChunkImpl);
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      kernel(p, x, u, bias, residual, y, c * chunk, std::min(rows, (c + 1) * chunk));
    }
  };
  if (pool != nullptr && threads > 1 && chunks > 1) {
    pool->ParallelFor(chunks, 1, run);
  } else {
    run(0, chunks);
  }
}

}  // namespace conv_internal
}  // namespace mp::kernels
#endif  // HWY_ONCE
