// proto <-> engine conversions: the only place where modelpress.v1 messages meet engine
// types (the engine never sees proto).
//
// PtqSpec -> pipeline::PtqOptions: proto3 zero values mean "the documented default" (an empty
// calibrator is "minmax", percentile 0 is 99.99, no latency_batches is {1, 64}, ...). Values
// the proto can hold but the recipe cannot take (negative sample counts, a batch size < 1)
// are INVALID_ARGUMENT naming the field, e.g. "ptq.latency_batches[1]: -4 is not >= 1";
// the recipe validates the rest (calibrator names, percentile range).
#ifndef MP_WORKERS_RUNTIME_CONVERT_H_
#define MP_WORKERS_RUNTIME_CONVERT_H_

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "modelpress/v1/job.pb.h"
#include "modelpress/v1/model.pb.h"
#include "workers/engine/pipeline/inspect.h"
#include "workers/engine/pipeline/job.h"
#include "workers/engine/pipeline/ptq.h"

namespace mp::runtime {

// Local files of a job's inputs, by role ("model", "calibration", "eval", "eval_labels").
using InputFiles = std::map<std::string, std::filesystem::path>;

// Builds the recipe options. "model" must be in `files`; "calibration", "eval" and
// "eval_labels" are used when the spec names those datasets (FAILED_PRECONDITION when the
// spec names one and the lease did not carry it; whether a mode needs calibration is the
// recipe's to say).
absl::StatusOr<pipeline::PtqOptions> PtqOptionsFromProto(const modelpress::v1::PtqSpec& spec,
                                                         uint64_t seed, const InputFiles& files);

modelpress::v1::DataType DTypeToProto(tensor::DType dtype);
modelpress::v1::ModelInspection InspectionToProto(const pipeline::Inspection& inspection);
void MetricsToProto(const std::vector<pipeline::Metric>& metrics,
                    google::protobuf::RepeatedPtrField<modelpress::v1::Metric>* out);

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_CONVERT_H_
