// Deployment targets (DESIGN.md §5 "The deployment runtime saturates too").
//
// ONNX Runtime's int8 kernels on x86 without VNNI (AVX2) multiply uint8 x int8 with the
// saturating int16 pair sum (vpmaddubsw): full-range int8 weights can overflow it, so on that
// target weights are 7-bit (reduce_range) and the result is then exact. With AVX-512 VNNI
// (vpdpbusd) and on ARM (sdot / widening multiplies) products accumulate exactly in int32.
//
//   "x86_avx2"  x86-64 without VNNI -> reduce_range forced
//   "x86_vnni"  x86-64 with AVX-512 VNNI
//   "arm"       AArch64
//   ""          the CPU running the recipe: x86_vnni when Highway's best target is AVX3_DL
//               (which implies VNNI), x86_avx2 for other x86 targets, arm on ARM.
#ifndef MP_WORKERS_ENGINE_QUANT_TARGET_H_
#define MP_WORKERS_ENGINE_QUANT_TARGET_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mp::quant {

struct Target {
  std::string name;  // "x86_avx2", "x86_vnni" or "arm"
  bool needs_reduce_range = false;
  bool detected = false;  // chosen from this CPU (name was "")
};

// INVALID_ARGUMENT for an unknown name.
absl::StatusOr<Target> ResolveTarget(std::string_view name);

// The Highway target our kernels dispatch to on this CPU, e.g. "AVX3_DL", "AVX2".
std::string HighwayTargetName();

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_TARGET_H_
