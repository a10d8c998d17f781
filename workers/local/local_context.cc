#include "workers/local/local_context.h"

#include <cmath>
#include <utility>

namespace mp::local {

LocalContext::LocalContext(std::filesystem::path dir, int threads, std::ostream* log,
                           std::string tag)
    : dir_(std::move(dir)), threads_(threads), log_(log), tag_(std::move(tag)) {}

absl::Status LocalContext::Report(const pipeline::ProgressUpdate& u) {
  if (log_ == nullptr) return absl::OkStatus();
  if (u.step != last_step_) {
    *log_ << "[" << tag_ << "] " << u.step << " ("
          << static_cast<int>(std::lround(100 * u.fraction)) << "%)\n";
    last_step_ = u.step;
  }
  if (!u.log.empty()) *log_ << "[" << tag_ << "] " << u.log << "\n";
  return absl::OkStatus();
}

Clock* LocalContext::clock() const { return SystemClock::Get(); }

}  // namespace mp::local
