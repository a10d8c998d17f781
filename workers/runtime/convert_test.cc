#include "workers/runtime/convert.h"

#include <gtest/gtest.h>

#include "workers/runtime/job_runner.h"

namespace mp::runtime {
namespace {

namespace v1 = ::modelpress::v1;

const InputFiles kFiles = {{"model", "/j/model.onnx"},
                           {"calibration", "/j/calibration.npy"},
                           {"eval", "/j/eval.idx.gz"},
                           {"eval_labels", "/j/eval_labels.idx.gz"}};

TEST(ConvertTest, EmptyPtqSpecMeansTheDocumentedDefaults) {
  v1::PtqSpec spec;
  spec.set_calibration_dataset_id("data_0000000000000001");
  auto o = PtqOptionsFromProto(spec, 42, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  const pipeline::PtqOptions defaults;
  EXPECT_EQ(o->model, "/j/model.onnx");
  EXPECT_EQ(o->calibration, "/j/calibration.npy");
  EXPECT_TRUE(o->eval.empty());  // not named by the spec
  EXPECT_TRUE(o->eval_labels.empty());
  EXPECT_EQ(o->calibrator, defaults.calibrator);
  EXPECT_EQ(o->percentile, defaults.percentile);
  EXPECT_EQ(o->activation_scheme, defaults.activation_scheme);
  EXPECT_TRUE(o->per_channel_weights);
  EXPECT_EQ(o->mode, defaults.mode);
  EXPECT_EQ(o->latency_batches, defaults.latency_batches);
  EXPECT_TRUE(o->sensitivity);
  EXPECT_EQ(o->seed, 42u);
}

TEST(ConvertTest, EveryPtqFieldIsCarried) {
  v1::PtqSpec spec;
  spec.set_calibration_dataset_id("data_0000000000000001");
  spec.set_eval_dataset_id("data_0000000000000002");
  spec.set_eval_labels_dataset_id("data_0000000000000003");
  spec.set_calibrator("entropy");
  spec.set_percentile(99.9);
  spec.set_activation_scheme("int8_symmetric");
  spec.set_per_tensor_weights(true);
  spec.set_target("x86_vnni");
  spec.set_max_accuracy_drop(0.01);
  spec.set_calibration_samples(500);
  spec.set_mode("dynamic");
  spec.set_reduce_range(true);
  spec.set_eval_samples(1000);
  spec.add_latency_batches(8);
  spec.set_skip_sensitivity(true);
  auto o = PtqOptionsFromProto(spec, 1, kFiles);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->eval, "/j/eval.idx.gz");
  EXPECT_EQ(o->eval_labels, "/j/eval_labels.idx.gz");
  EXPECT_EQ(o->calibrator, "entropy");
  EXPECT_EQ(o->percentile, 99.9);
  EXPECT_EQ(o->activation_scheme, "int8_symmetric");
  EXPECT_FALSE(o->per_channel_weights);
  EXPECT_EQ(o->target, "x86_vnni");
  EXPECT_EQ(o->max_accuracy_drop, 0.01);
  EXPECT_EQ(o->calibration_samples, 500);
  EXPECT_EQ(o->mode, "dynamic");
  EXPECT_TRUE(o->reduce_range);
  EXPECT_EQ(o->eval_samples, 1000);
  EXPECT_EQ(o->latency_batches, std::vector<int64_t>{8});
  EXPECT_FALSE(o->sensitivity);
}

TEST(ConvertTest, OutOfRangeFieldsAreNamed) {
  v1::PtqSpec spec;
  spec.add_latency_batches(1);
  spec.add_latency_batches(-4);
  auto o = PtqOptionsFromProto(spec, 0, kFiles);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(o.status().message(), "ptq.latency_batches[1]: -4 is not >= 1");

  v1::PtqSpec negative;
  negative.set_calibration_samples(-1);
  EXPECT_EQ(PtqOptionsFromProto(negative, 0, kFiles).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConvertTest, MissingInputsAreFailedPrecondition) {
  v1::PtqSpec spec;
  spec.set_eval_dataset_id("data_0000000000000002");
  auto o = PtqOptionsFromProto(spec, 0, {{"model", "m"}, {"calibration", "c"}});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(o.status().message()).find("'eval'"), std::string::npos);
  spec.set_calibration_dataset_id("data_0000000000000001");
  EXPECT_EQ(PtqOptionsFromProto(spec, 0, {{"model", "m"}, {"eval", "e"}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PtqOptionsFromProto(v1::PtqSpec(), 0, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ConvertTest, InspectionToProto) {
  pipeline::Inspection in;
  in.ir_version = 8;
  in.opset = 17;
  in.parameter_count = 1234;
  in.inputs = {
      {.name = "x", .dtype = tensor::DType::kFloat32, .dims = {-1, 3}, .dim_params = {"N", ""}}};
  in.outputs = {{.name = "y", .dtype = tensor::DType::kInt64, .dims = {-1}, .dim_params = {""}}};
  in.op_counts = {{"Conv", 2}, {"Hardmax", 1}};
  in.unsupported_ops = {"Hardmax"};
  const v1::ModelInspection p = InspectionToProto(in);
  EXPECT_EQ(p.ir_version(), 8);
  EXPECT_EQ(p.opset(), 17);
  EXPECT_EQ(p.parameter_count(), 1234);
  ASSERT_EQ(p.inputs_size(), 1);
  EXPECT_EQ(p.inputs(0).dtype(), v1::DATA_TYPE_FLOAT);
  EXPECT_EQ(p.inputs(0).dims(0), -1);
  EXPECT_EQ(p.inputs(0).dim_params(0), "N");
  EXPECT_EQ(p.outputs(0).dtype(), v1::DATA_TYPE_INT64);
  EXPECT_EQ(p.op_counts().at("Conv"), 2);
  ASSERT_EQ(p.unsupported_ops_size(), 1);
  EXPECT_EQ(p.unsupported_ops(0), "Hardmax");
}

TEST(ConvertTest, ErrorClassesAndKindNames) {
  EXPECT_TRUE(IsPermanentJobError(absl::InvalidArgumentError("x")));
  EXPECT_TRUE(IsPermanentJobError(absl::UnimplementedError("x")));
  EXPECT_TRUE(IsPermanentJobError(absl::FailedPreconditionError("x")));
  EXPECT_FALSE(IsPermanentJobError(absl::InternalError("x")));
  EXPECT_FALSE(IsPermanentJobError(absl::DataLossError("x")));
  EXPECT_FALSE(IsPermanentJobError(absl::UnavailableError("x")));
  EXPECT_EQ(KindName(v1::JOB_KIND_PRUNE), "prune");
  EXPECT_EQ(KindName(v1::JOB_KIND_INSPECT), "inspect");
}

}  // namespace
}  // namespace mp::runtime
