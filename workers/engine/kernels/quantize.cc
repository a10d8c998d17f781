// Quantize / dequantize / requantize kernels: see quantize.h. Each target processes whole
// vectors; a tail goes through a lane-sized buffer so every element runs the same vector
// code wherever it falls.
#include "workers/engine/kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/quantize.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using DI = hn::RebindToSigned<DF>;
constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);

// Rounds (half to even) v clamped to [lo, hi] (NaN -> lo), adds zp, stores n lanes as
// uint8/int8 at out.
HWY_INLINE void StoreQuantized(hn::Vec<DF> v, hn::Vec<DF> lo, hn::Vec<DF> hi, hn::Vec<DI> zp,
                               QType type, void* out) {
  const auto not_nan = hn::Eq(v, v);
  v = hn::IfThenElse(not_nan, hn::Min(hn::Max(v, lo), hi), lo);
  const auto q = hn::Add(hn::NearestInt(v), zp);
  if (type == QType::kUint8) {
    const hn::Rebind<uint8_t, DI> d8;
    hn::StoreU(hn::DemoteTo(d8, q), d8, static_cast<uint8_t*>(out));
  } else {
    const hn::Rebind<int8_t, DI> d8;
    hn::StoreU(hn::DemoteTo(d8, q), d8, static_cast<int8_t*>(out));
  }
}

HWY_INLINE hn::Vec<DI> LoadQ(const void* q, QType type) {
  const DI di;
  if (type == QType::kUint8) {
    const hn::Rebind<uint8_t, DI> d8;
    const hn::RebindToUnsigned<DI> du;
    return hn::BitCast(di, hn::PromoteTo(du, hn::LoadU(d8, static_cast<const uint8_t*>(q))));
  }
  const hn::Rebind<int8_t, DI> d8;
  return hn::PromoteTo(di, hn::LoadU(d8, static_cast<const int8_t*>(q)));
}

void QuantizeLinearImpl(const float* x, int64_t n, float scale, int32_t zero_point, QType type,
                        void* out) {
  const DF df;
  const DI di;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vs = hn::Set(df, scale);
  const auto lo = hn::Set(df, static_cast<float>(QMin(type) - zero_point));
  const auto hi = hn::Set(df, static_cast<float>(QMax(type) - zero_point));
  const auto zp = hn::Set(di, zero_point);
  uint8_t* o = static_cast<uint8_t*>(out);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    StoreQuantized(hn::Div(hn::LoadU(df, x + i), vs), lo, hi, zp, type, o + i);
  }
  if (i < n) {
    HWY_ALIGN float buf[kMaxLanes] = {};
    uint8_t obuf[kMaxLanes];
    std::copy(x + i, x + n, buf);
    StoreQuantized(hn::Div(hn::Load(df, buf), vs), lo, hi, zp, type, obuf);
    std::memcpy(o + i, obuf, static_cast<size_t>(n - i));
  }
}

void DequantizeLinearImpl(const void* q, QType type, int64_t n, float scale, int32_t zero_point,
                          float* out) {
  const DF df;
  const DI di;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vs = hn::Set(df, scale);
  const auto zp = hn::Set(di, zero_point);
  const uint8_t* p = static_cast<const uint8_t*>(q);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::Sub(LoadQ(p + i, type), zp)), vs), df, out + i);
  }
  if (i < n) {
    uint8_t buf[kMaxLanes] = {};
    HWY_ALIGN float obuf[kMaxLanes];
    std::memcpy(buf, p + i, static_cast<size_t>(n - i));
    hn::Store(hn::Mul(hn::ConvertTo(df, hn::Sub(LoadQ(buf, type), zp)), vs), df, obuf);
    std::copy(obuf, obuf + (n - i), out + i);
  }
}

void DequantizeLinearInt32Impl(const int32_t* q, int64_t n, float scale, int32_t zero_point,
                               float* out) {
  const DF df;
  const DI di;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vs = hn::Set(df, scale);
  const auto zp = hn::Set(di, zero_point);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::Sub(hn::LoadU(di, q + i), zp)), vs), df, out + i);
  }
  if (i < n) {
    HWY_ALIGN int32_t buf[kMaxLanes] = {};
    HWY_ALIGN float obuf[kMaxLanes];
    std::copy(q + i, q + n, buf);
    hn::Store(hn::Mul(hn::ConvertTo(df, hn::Sub(hn::Load(di, buf), zp)), vs), df, obuf);
    std::copy(obuf, obuf + (n - i), out + i);
  }
}

// bias / scale: per element when the pointer is set, else the scalar.
void RequantizeImpl(const int32_t* acc, int64_t n, const int32_t* bias_v, int32_t bias,
                    const float* scale_v, float scale, int32_t zero_point, QType type, void* out) {
  const DF df;
  const DI di;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto lo = hn::Set(df, static_cast<float>(QMin(type) - zero_point));
  const auto hi = hn::Set(df, static_cast<float>(QMax(type) - zero_point));
  const auto zp = hn::Set(di, zero_point);
  const auto vb = hn::Set(di, bias);
  const auto vs = hn::Set(df, scale);
  uint8_t* o = static_cast<uint8_t*>(out);
  auto one = [&](const int32_t* a, const int32_t* b, const float* s, uint8_t* dst) {
    auto sum = hn::Add(hn::LoadU(di, a), b != nullptr ? hn::LoadU(di, b) : vb);
    // Wrapping int32 add, as MLAS's paddd.
    const auto mul = s != nullptr ? hn::LoadU(df, s) : vs;
    StoreQuantized(hn::Mul(hn::ConvertTo(df, sum), mul), lo, hi, zp, type, dst);
  };
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    one(acc + i, bias_v ? bias_v + i : nullptr, scale_v ? scale_v + i : nullptr, o + i);
  }
  if (i < n) {
    const size_t rest = static_cast<size_t>(n - i);
    HWY_ALIGN int32_t abuf[kMaxLanes] = {};
    HWY_ALIGN int32_t bbuf[kMaxLanes] = {};
    HWY_ALIGN float sbuf[kMaxLanes] = {};
    uint8_t obuf[kMaxLanes];
    std::copy(acc + i, acc + n, abuf);
    if (bias_v != nullptr) std::copy(bias_v + i, bias_v + n, bbuf);
    if (scale_v != nullptr) std::copy(scale_v + i, scale_v + n, sbuf);
    one(abuf, bias_v ? bbuf : nullptr, scale_v ? sbuf : nullptr, obuf);
    std::memcpy(o + i, obuf, rest);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {

HWY_EXPORT(QuantizeLinearImpl);
HWY_EXPORT(DequantizeLinearImpl);
HWY_EXPORT(DequantizeLinearInt32Impl);
HWY_EXPORT(RequantizeImpl);

void QuantizeLinear(const float* x, int64_t n, float scale, int32_t zero_point, QType type,
                    void* out) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(QuantizeLinearImpl)(x, n, scale, zero_point, type, out);
}

void DequantizeLinear(const void* q, QType type, int64_t n, float scale, int32_t zero_point,
                      float* out) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(DequantizeLinearImpl)(q, type, n, scale, zero_point, out);
}

void DequantizeLinearInt32(const int32_t* q, int64_t n, float scale, int32_t zero_point,
                           float* out) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(DequantizeLinearInt32Impl)(q, n, scale, zero_point, out);
}

void Requantize(const int32_t* acc, int64_t n, int32_t bias, float scale, int32_t zero_point,
                QType type, void* out) {
  if (n > 0) {
    HWY_DYNAMIC_DISPATCH(RequantizeImpl)
    (acc, n, nullptr, bias, nullptr, scale, zero_point, type, out);
  }
}

void RequantizePerElement(const int32_t* acc, int64_t n, const int32_t* bias, const float* scale,
                          int32_t zero_point, QType type, void* out) {
  if (n > 0) {
    HWY_DYNAMIC_DISPATCH(RequantizeImpl)(acc, n, bias, 0, scale, 1.0f, zero_point, type, out);
  }
}

namespace {
int32_t ClampRound(float v, int32_t zero_point, QType type) {
  const float lo = static_cast<float>(QMin(type) - zero_point);
  const float hi = static_cast<float>(QMax(type) - zero_point);
  if (!(v >= lo)) v = lo;  // also NaN
  if (v > hi) v = hi;
  return static_cast<int32_t>(std::nearbyint(v)) + zero_point;
}
}  // namespace

int32_t QuantizeOneReference(float x, float scale, int32_t zero_point, QType type) {
  return ClampRound(x / scale, zero_point, type);
}

int32_t RequantizeOneReference(int32_t acc, float scale, int32_t zero_point, QType type) {
  return ClampRound(static_cast<float>(acc) * scale, zero_point, type);
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
