// The pipeline::JobContext of a recipe run by a local `modelpress-worker <kind>` command: no
// server, never cancelled, progress printed as one line per step.
#ifndef MP_WORKERS_LOCAL_LOCAL_CONTEXT_H_
#define MP_WORKERS_LOCAL_LOCAL_CONTEXT_H_

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

#include "workers/engine/pipeline/job.h"

namespace mp::local {

// Prints "[<tag>] <step> (<percent>%)" to `log` (may be null: silent) whenever the step
// changes, plus the update's `log` line when it has one. Artifacts go to `dir`.
class LocalContext final : public pipeline::JobContext {
 public:
  LocalContext(std::filesystem::path dir, int threads, std::ostream* log, std::string tag);
  absl::Status Report(const pipeline::ProgressUpdate& update) override;
  bool cancelled() const override { return false; }
  const std::filesystem::path& work_dir() const override { return dir_; }
  int num_threads() const override { return threads_; }
  Clock* clock() const override;

 private:
  std::filesystem::path dir_;
  int threads_;
  std::ostream* log_;
  std::string tag_;
  std::string last_step_;
};

// What a local run leaves behind: the recipe's metrics and the text of its "report"
// artifact ("" when it has none).
struct LocalRun {
  std::vector<pipeline::Metric> metrics;
  std::string report;
};

using LocalRecipe = std::function<absl::StatusOr<pipeline::JobResult>(pipeline::JobContext&)>;

// Runs `recipe` with a LocalContext(`tag`, `threads`, `log`) in a fresh scratch directory
// that is removed afterwards, then copies each artifact named in `outputs` ({artifact name,
// destination path}; empty destinations are skipped) with AtomicWriteFile. A failing recipe
// writes nothing.
absl::StatusOr<LocalRun> RunLocally(
    std::string_view tag, int threads, std::ostream* log, const LocalRecipe& recipe,
    const std::vector<std::pair<std::string, std::string>>& outputs);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_LOCAL_CONTEXT_H_
