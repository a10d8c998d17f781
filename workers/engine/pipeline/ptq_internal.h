// Internal to the ptq recipe (ptq.h): data loading and validation, and the JSON report.
#ifndef MP_WORKERS_ENGINE_PIPELINE_PTQ_INTERNAL_H_
#define MP_WORKERS_ENGINE_PIPELINE_PTQ_INTERNAL_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/quant/quant.h"

namespace mp::pipeline::internal {

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

// JSON helpers: SQNR may be +-inf (exact / zero signal): written as null.
nlohmann::json Db(double v);
nlohmann::json TensorJson(const quant::QuantizedTensor& t);
nlohmann::json ScoreJson(const quant::Score& s);
nlohmann::json LayersJson(const std::vector<quant::Layer>& all,
                          const std::vector<std::string>& quantized,
                          const std::vector<std::string>& fp32_fallback);

}  // namespace mp::pipeline::internal

#endif  // MP_WORKERS_ENGINE_PIPELINE_PTQ_INTERNAL_H_
