// JSON pieces of the ptq report (ptq.h describes the report).
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "workers/engine/pipeline/ptq_internal.h"

namespace mp::pipeline::internal {

nlohmann::json Db(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

nlohmann::json TensorJson(const quant::QuantizedTensor& t) {
  nlohmann::json j = {{"name", t.name}, {"dtype", tensor::DTypeName(t.params.type)}};
  if (!t.layer.empty()) j["layer"] = t.layer;
  if (t.kind == quant::QuantizedTensor::Kind::kActivation) {
    j["scale"] = t.params.scale;
    j["zero_point"] = t.params.zero_point;
    return j;
  }
  j["axis"] = t.axis;
  j["channels"] = t.scales.size();
  j["sqnr_db"] = Db(t.sqnr_db);
  j["mse"] = t.mse;
  return j;
}

nlohmann::json ScoreJson(const quant::Score& s) {
  nlohmann::json j = {{"agreement_top1", s.agreement}, {"output_sqnr_db", Db(s.output_sqnr_db)}};
  if (s.accuracy >= 0) j["accuracy_top1"] = s.accuracy;
  return j;
}

nlohmann::json LayersJson(const std::vector<quant::Layer>& all,
                          const std::vector<std::string>& quantized,
                          const std::vector<std::string>& fp32_fallback) {
  const absl::flat_hash_set<std::string> q(quantized.begin(), quantized.end());
  const absl::flat_hash_set<std::string> f(fp32_fallback.begin(), fp32_fallback.end());
  nlohmann::json out = nlohmann::json::array();
  for (const quant::Layer& l : all) {
    out.push_back({{"name", l.name},
                   {"op_type", l.op_type},
                   {"precision", q.contains(l.name) ? "int8" : "fp32"},
                   {"fallback", f.contains(l.name)}});
  }
  return out;
}

}  // namespace mp::pipeline::internal
