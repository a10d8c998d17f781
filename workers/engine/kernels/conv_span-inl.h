// Per-target span copies shared by the conv kernels' copy-outs and staging (conv_stage.cc,
// conv_winograd.cc): whole vectors only, the last one overlapping the previous, of the widest
// tag that fits the span, so nothing outside [src, src + n) / [dst, dst + n) is touched.
// A Highway per-target header: include it after hwy/highway.h in a foreach_target file.
#if defined(MP_WORKERS_ENGINE_KERNELS_CONV_SPAN_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MP_WORKERS_ENGINE_KERNELS_CONV_SPAN_INL_H_
#undef MP_WORKERS_ENGINE_KERNELS_CONV_SPAN_INL_H_
#else
#define MP_WORKERS_ENGINE_KERNELS_CONV_SPAN_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace span {
namespace hn = hwy::HWY_NAMESPACE;

// dst[i] = src[i] for i < n, with whole vectors (the last one overlapping the previous)
// of the widest tag that fits n; never touches memory outside [src, src+n) / [dst, dst+n).
template <class DT>
HWY_INLINE bool CopySpanWith(DT d, const float* src, float* dst, int64_t n) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  if (n < lanes) return false;
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  if (i < n) hn::StoreU(hn::LoadU(d, src + n - lanes), d, dst + n - lanes);
  return true;
}

HWY_INLINE void CopySpan(const float* src, float* dst, int64_t n) {
  if (CopySpanWith(hn::ScalableTag<float>(), src, dst, n)) return;
  if (CopySpanWith(hn::CappedTag<float, 8>(), src, dst, n)) return;
  if (CopySpanWith(hn::CappedTag<float, 4>(), src, dst, n)) return;
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// dst[i] = clamp(src[i] + res[i], lo, hi) for i < n (res does not overlap dst, so the
// overlapping last vector recomputes the same values).
template <class DT>
HWY_INLINE bool AddClampSpanWith(DT d, const float* src, const float* res, float lo, float hi,
                                 float* dst, int64_t n) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  if (n < lanes) return false;
  const auto vlo = hn::Set(d, lo), vhi = hn::Set(d, hi);
  auto one = [&](int64_t i) {
    const auto v = hn::Add(hn::LoadU(d, src + i), hn::LoadU(d, res + i));
    hn::StoreU(hn::Min(hn::Max(v, vlo), vhi), d, dst + i);
  };
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) one(i);
  if (i < n) one(n - lanes);
  return true;
}

HWY_INLINE void AddClampSpan(const float* src, const float* res, float lo, float hi, float* dst,
                             int64_t n) {
  if (AddClampSpanWith(hn::ScalableTag<float>(), src, res, lo, hi, dst, n)) return;
  if (AddClampSpanWith(hn::CappedTag<float, 8>(), src, res, lo, hi, dst, n)) return;
  if (AddClampSpanWith(hn::CappedTag<float, 4>(), src, res, lo, hi, dst, n)) return;
  for (int64_t i = 0; i < n; ++i) dst[i] = std::min(std::max(src[i] + res[i], lo), hi);
}

}  // namespace span
}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#endif  // MP_WORKERS_ENGINE_KERNELS_CONV_SPAN_INL_H_
