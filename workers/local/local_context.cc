#include "workers/local/local_context.h"

#include <cmath>
#include <utility>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"

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

absl::StatusOr<LocalRun> RunLocally(
    std::string_view tag, int threads, std::ostream* log, const LocalRecipe& recipe,
    const std::vector<std::pair<std::string, std::string>>& outputs) {
  ScopedTempDir dir;
  RETURN_IF_ERROR(dir.Create(StrCat("modelpress-", tag, "-")));
  LocalContext ctx(dir.path(), threads, log, std::string(tag));
  ASSIGN_OR_RETURN(pipeline::JobResult result, recipe(ctx));
  LocalRun run{.metrics = std::move(result.metrics)};
  for (const pipeline::Artifact& a : result.artifacts) {
    std::vector<std::string> destinations;
    for (const auto& [name, path] : outputs) {
      if (name == a.name && !path.empty()) destinations.push_back(path);
    }
    if (destinations.empty() && a.name != "report") continue;
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(a.path.string()));
    for (const std::string& path : destinations) RETURN_IF_ERROR(AtomicWriteFile(path, bytes));
    if (a.name == "report") run.report = std::move(bytes);
  }
  return run;
}

}  // namespace mp::local
