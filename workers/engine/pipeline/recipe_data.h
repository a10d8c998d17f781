// Loading the sample files a recipe is given (calibration, training, evaluation data) into a
// data::Dataset checked against the model's input, shared by every recipe in pipeline/.
#ifndef MP_WORKERS_ENGINE_PIPELINE_RECIPE_DATA_H_
#define MP_WORKERS_ENGINE_PIPELINE_RECIPE_DATA_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "workers/engine/data/dataset.h"
#include "workers/engine/exec/session.h"

namespace mp::pipeline {

// Loads samples for `session`'s single input from .npy (float32 kept, float64 narrowed,
// uint8 / 255, other integers converted), IDX (.gz or not; uint8 / 255 with a channel axis)
// or a TensorProto .pb, keeping the first `limit` rows (0 = all), with optional labels
// (.npy or IDX, integer class ids; "" for none). Validates, naming `what` ("calibration
// data 'c.npy'"): at least one sample, a numeric dtype, every value finite, labels one per
// sample, and the sample shape equal to the model input's declared dims (reshaping when
// only the layout differs, e.g. [N, 784] data for a [N, 1, 28, 28] input).
absl::StatusOr<data::Dataset> LoadSamples(const std::filesystem::path& path,
                                          const std::filesystem::path& labels, int64_t limit,
                                          const exec::Session& session, std::string_view what);

// Splits off the last round(fraction * N) rows of `ds` as a held-out evaluation set:
// returns {first rows, last rows}. `fraction` in [0, 1); when it rounds to no rows (or to
// all of them) the second dataset is empty (size 0) and the first is `ds`.
absl::StatusOr<std::pair<data::Dataset, data::Dataset>> SplitHoldout(const data::Dataset& ds,
                                                                     double fraction);

// The training and evaluation sets of a training recipe (prune, distill, compose): `data` /
// `labels` (the first `limit` rows; none when `data` is empty) and the evaluation set:
// `eval_data` / `eval_labels` when given, else the last `holdout` fraction of the training
// rows (SplitHoldout; those rows are then not trained on), else none. Errors name the file
// ("data 'x.gz': ...", "eval data 'y.npy': ...").
struct TrainEval {
  std::optional<data::Dataset> train, eval;
};
absl::StatusOr<TrainEval> LoadTrainEval(const exec::Session& session,
                                        const std::filesystem::path& data,
                                        const std::filesystem::path& labels, int64_t limit,
                                        const std::filesystem::path& eval_data,
                                        const std::filesystem::path& eval_labels, double holdout);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_RECIPE_DATA_H_
