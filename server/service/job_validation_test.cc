#include "server/service/job_validation.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::service {
namespace {

namespace v1 = ::modelpress::v1;
using ::testing::HasSubstr;

v1::PtqSpec Valid() {
  v1::PtqSpec ptq;
  ptq.set_calibration_dataset_id("data_0123456789abcdef");
  return ptq;
}

void ExpectInvalid(const v1::PtqSpec& ptq, const std::string& field) {
  absl::Status status = ValidatePtqOptions(ptq);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_THAT(std::string(status.message()), HasSubstr(field));
}

TEST(ValidatePtqOptionsTest, AcceptsDefaultsAndDocumentedValues) {
  EXPECT_TRUE(ValidatePtqOptions(Valid()).ok());
  v1::PtqSpec ptq = Valid();
  ptq.set_calibrator("percentile");
  ptq.set_percentile(99.9);
  ptq.set_activation_scheme("int8_symmetric");
  ptq.set_target("x86_avx2");
  ptq.set_mode("static");
  ptq.set_eval_dataset_id("data_0123456789abcdee");
  ptq.set_eval_labels_dataset_id("data_0123456789abcded");
  ptq.set_max_accuracy_drop(0.01);
  ptq.add_latency_batches(1);
  ptq.add_latency_batches(64);
  EXPECT_TRUE(ValidatePtqOptions(ptq).ok()) << ValidatePtqOptions(ptq);
  v1::PtqSpec dynamic;
  dynamic.set_mode("dynamic");  // no calibration needed
  EXPECT_TRUE(ValidatePtqOptions(dynamic).ok());
}

TEST(ValidatePtqOptionsTest, NamesTheBadField) {
  v1::PtqSpec ptq = Valid();
  ptq.set_calibrator("magic");
  ExpectInvalid(ptq, "spec.ptq.calibrator");

  ptq = Valid();
  ptq.set_calibrator("percentile");
  ptq.set_percentile(150);
  ExpectInvalid(ptq, "spec.ptq.percentile");

  ptq = Valid();
  ptq.set_percentile(99);  // without the percentile calibrator
  ExpectInvalid(ptq, "spec.ptq.percentile");

  ptq = Valid();
  ptq.set_activation_scheme("int4");
  ExpectInvalid(ptq, "spec.ptq.activation_scheme");

  ptq = Valid();
  ptq.set_target("gpu");
  ExpectInvalid(ptq, "spec.ptq.target");

  ptq = Valid();
  ptq.set_mode("int2");
  ExpectInvalid(ptq, "spec.ptq.mode");

  ptq = Valid();
  ptq.set_max_accuracy_drop(-0.1);
  ExpectInvalid(ptq, "spec.ptq.max_accuracy_drop");

  ptq = Valid();
  ptq.set_max_accuracy_drop(0.01);  // without eval data
  ExpectInvalid(ptq, "spec.ptq.max_accuracy_drop");

  ptq = Valid();
  ptq.set_calibration_samples(-1);
  ExpectInvalid(ptq, "spec.ptq.calibration_samples");

  ptq = Valid();
  ptq.set_eval_samples(-5);
  ExpectInvalid(ptq, "spec.ptq.eval_samples");

  ptq = Valid();
  ptq.add_latency_batches(0);
  ExpectInvalid(ptq, "spec.ptq.latency_batches[0]");

  ptq = Valid();
  ptq.set_eval_labels_dataset_id("data_0123456789abcded");
  ExpectInvalid(ptq, "spec.ptq.eval_labels_dataset_id");

  ptq = Valid();
  ptq.clear_calibration_dataset_id();
  ExpectInvalid(ptq, "spec.ptq.calibration_dataset_id");
}

}  // namespace
}  // namespace mp::service
