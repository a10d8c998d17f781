// Internal to the ptq recipe (ptq.h): the JSON report.
#ifndef MP_WORKERS_ENGINE_PIPELINE_PTQ_INTERNAL_H_
#define MP_WORKERS_ENGINE_PIPELINE_PTQ_INTERNAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "workers/engine/quant/quant.h"

namespace mp::pipeline::internal {

// JSON helpers: SQNR may be +-inf (exact / zero signal): written as null.
nlohmann::json Db(double v);
nlohmann::json TensorJson(const quant::QuantizedTensor& t);
nlohmann::json ScoreJson(const quant::Score& s);
nlohmann::json LayersJson(const std::vector<quant::Layer>& all,
                          const std::vector<std::string>& quantized,
                          const std::vector<std::string>& fp32_fallback);

}  // namespace mp::pipeline::internal

#endif  // MP_WORKERS_ENGINE_PIPELINE_PTQ_INTERNAL_H_
