#include "workers/engine/quant/target.h"

#include "common/str_cat.h"
#include "hwy/targets.h"

namespace mp::quant {
namespace {

int64_t BestTarget() {
  // Among the targets compiled into this binary (HWY_TARGETS, the kernels' default too), the
  // best one the CPU supports: Highway gives better targets lower bits.
  const int64_t supported = hwy::SupportedTargets() & HWY_TARGETS;
  return supported & -supported;
}

}  // namespace

std::string HighwayTargetName() { return hwy::TargetName(BestTarget()); }

absl::StatusOr<Target> ResolveTarget(std::string_view name) {
  if (name == "x86_avx2") return Target{"x86_avx2", true, false};
  if (name == "x86_vnni") return Target{"x86_vnni", false, false};
  if (name == "arm") return Target{"arm", false, false};
  if (!name.empty()) {
    return absl::InvalidArgumentError(
        StrCat("target '", name, "' is not one of x86_avx2, x86_vnni, arm (or empty: this CPU)"));
  }
#if HWY_ARCH_X86
  const bool vnni = (hwy::SupportedTargets() & HWY_AVX3_DL) != 0;
  return vnni ? Target{"x86_vnni", false, true} : Target{"x86_avx2", true, true};
#elif HWY_ARCH_ARM
  return Target{"arm", false, true};
#else
  return Target{"x86_avx2", true, true};  // unknown ISA: the conservative scheme
#endif
}

}  // namespace mp::quant
