#include "workers/runtime/convert.h"

#include "common/str_cat.h"

namespace mp::runtime {

namespace v1 = ::modelpress::v1;

namespace {

absl::StatusOr<std::filesystem::path> Role(const InputFiles& files, const std::string& role,
                                           const std::string& field) {
  auto it = files.find(role);
  if (it == files.end()) {
    return absl::FailedPreconditionError(
        mp::StrCat("ptq.", field, " is set but the lease carries no '", role, "' input"));
  }
  return it->second;
}

}  // namespace

absl::StatusOr<pipeline::PtqOptions> PtqOptionsFromProto(const v1::PtqSpec& spec, uint64_t seed,
                                                         const InputFiles& files) {
  pipeline::PtqOptions o;
  auto model = files.find("model");
  if (model == files.end()) {
    return absl::FailedPreconditionError("ptq job: the lease carries no 'model' input");
  }
  o.model = model->second;
  if (!spec.calibration_dataset_id().empty()) {  // the recipe says when it is required
    auto calibration = Role(files, "calibration", "calibration_dataset_id");
    if (!calibration.ok()) return calibration.status();
    o.calibration = *calibration;
  }
  if (!spec.eval_dataset_id().empty()) {
    auto eval = Role(files, "eval", "eval_dataset_id");
    if (!eval.ok()) return eval.status();
    o.eval = *eval;
  }
  if (!spec.eval_labels_dataset_id().empty()) {
    auto labels = Role(files, "eval_labels", "eval_labels_dataset_id");
    if (!labels.ok()) return labels.status();
    o.eval_labels = *labels;
  }
  if (!spec.calibrator().empty()) o.calibrator = spec.calibrator();
  if (spec.percentile() != 0) o.percentile = spec.percentile();
  if (!spec.activation_scheme().empty()) o.activation_scheme = spec.activation_scheme();
  o.per_channel_weights = !spec.per_tensor_weights();
  o.target = spec.target();
  o.reduce_range = spec.reduce_range();
  if (!spec.mode().empty()) o.mode = spec.mode();
  o.max_accuracy_drop = spec.max_accuracy_drop();
  if (spec.calibration_samples() < 0) {
    return absl::InvalidArgumentError(
        mp::StrCat("ptq.calibration_samples: ", spec.calibration_samples(), " is negative"));
  }
  o.calibration_samples = spec.calibration_samples();
  if (spec.eval_samples() < 0) {
    return absl::InvalidArgumentError(
        mp::StrCat("ptq.eval_samples: ", spec.eval_samples(), " is negative"));
  }
  o.eval_samples = spec.eval_samples();
  if (spec.latency_batches_size() > 0) {
    o.latency_batches.clear();
    for (int i = 0; i < spec.latency_batches_size(); ++i) {
      const int32_t b = spec.latency_batches(i);
      if (b < 1) {
        return absl::InvalidArgumentError(
            mp::StrCat("ptq.latency_batches[", i, "]: ", b, " is not >= 1"));
      }
      o.latency_batches.push_back(b);
    }
  }
  o.sensitivity = !spec.skip_sensitivity();
  o.seed = seed;
  return o;
}

v1::DataType DTypeToProto(tensor::DType dtype) {
  switch (dtype) {
    case tensor::DType::kFloat32:
      return v1::DATA_TYPE_FLOAT;
    case tensor::DType::kUint8:
      return v1::DATA_TYPE_UINT8;
    case tensor::DType::kInt8:
      return v1::DATA_TYPE_INT8;
    case tensor::DType::kInt32:
      return v1::DATA_TYPE_INT32;
    case tensor::DType::kInt64:
      return v1::DATA_TYPE_INT64;
    case tensor::DType::kFloat16:
      return v1::DATA_TYPE_FLOAT16;
    case tensor::DType::kBFloat16:
      return v1::DATA_TYPE_BFLOAT16;
    default:
      // bool, float64, undefined: not in the public enum (yet); reported as unspecified.
      return v1::DATA_TYPE_UNSPECIFIED;
  }
}

namespace {

void TensorInfoToProto(const pipeline::TensorDescription& d, v1::TensorInfo* out) {
  out->set_name(d.name);
  out->set_dtype(DTypeToProto(d.dtype));
  for (size_t i = 0; i < d.dims.size(); ++i) {
    out->add_dims(d.dims[i]);
    out->add_dim_params(i < d.dim_params.size() ? d.dim_params[i] : "");
  }
}

}  // namespace

v1::ModelInspection InspectionToProto(const pipeline::Inspection& inspection) {
  v1::ModelInspection out;
  out.set_ir_version(inspection.ir_version);
  out.set_opset(inspection.opset);
  out.set_parameter_count(inspection.parameter_count);
  for (const auto& d : inspection.inputs) TensorInfoToProto(d, out.add_inputs());
  for (const auto& d : inspection.outputs) TensorInfoToProto(d, out.add_outputs());
  for (const auto& [op, n] : inspection.op_counts) (*out.mutable_op_counts())[op] = n;
  for (const auto& op : inspection.unsupported_ops) out.add_unsupported_ops(op);
  return out;
}

void MetricsToProto(const std::vector<pipeline::Metric>& metrics,
                    google::protobuf::RepeatedPtrField<v1::Metric>* out) {
  for (const auto& m : metrics) {
    v1::Metric* p = out->Add();
    p->set_name(m.name);
    p->set_value(m.value);
  }
}

}  // namespace mp::runtime
