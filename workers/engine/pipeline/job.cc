#include "workers/engine/pipeline/job.h"

#include <algorithm>

namespace mp::pipeline {

EtaEstimator::EtaEstimator(Clock* clock) : clock_(clock) { Start(); }

void EtaEstimator::Start() { start_nanos_ = clock_->MonotonicNanos(); }

double EtaEstimator::Update(double fraction) {
  const double elapsed = double(clock_->MonotonicNanos() - start_nanos_) * 1e-9;
  fraction = std::clamp(fraction, 0.0, 1.0);
  if (fraction >= 1.0) return 0.0;
  if (fraction < 0.01 || elapsed < 0.5) return -1.0;
  return elapsed * (1.0 - fraction) / fraction;
}

}  // namespace mp::pipeline
