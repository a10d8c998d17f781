// Element-type conversions used to turn stored data into model inputs and labels.
#ifndef MP_WORKERS_ENGINE_DATA_CONVERT_H_
#define MP_WORKERS_ENGINE_DATA_CONVERT_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::data {

// A fresh float32 tensor of the same shape with y = float(x) / divisor, computed as
//   float32, float16, bfloat16, uint8, int8, int32, bool:  static_cast<float>(x) / divisor
//   float64, int64:  static_cast<float>(static_cast<double>(x) / divisor)
// (for uint8 images and divisor 255 this equals numpy's x.astype(np.float32) / np.float32(255)
// bit for bit). INVALID_ARGUMENT if divisor is zero or not finite, or for an undefined tensor.
absl::StatusOr<tensor::Tensor> ConvertToFloat32(const tensor::Tensor& t, float divisor = 1.0f);

// Class labels as int64: int64 is returned as is (shared buffer); uint8, int8 and int32 are
// widened. Float and bool labels are INVALID_ARGUMENT naming `what` (e.g. the file).
absl::StatusOr<tensor::Tensor> ConvertLabelsToInt64(const tensor::Tensor& t, std::string_view what);

}  // namespace mp::data

#endif  // MP_WORKERS_ENGINE_DATA_CONVERT_H_
