// TensorProto <-> tensor::Tensor and ValueInfo types <-> ir declarations. Internal to
// mp::onnx (includes ONNX headers).
//
// Reading checks, in order, naming the tensor (`what`, e.g. "initializer 'w'"):
//   external data (data_location EXTERNAL or external_data entries) -> INVALID_ARGUMENT;
//   segments -> UNIMPLEMENTED; element type not one of tensor::DType -> UNIMPLEMENTED;
//   rank > 8, negative dim, element count or byte size overflowing int64 -> INVALID_ARGUMENT;
//   byte size beyond the remaining budget -> RESOURCE_EXHAUSTED;
//   raw_data present: length must equal elements x element size and no typed field may
//   also be set; otherwise exactly the typed field for the element type (float_data,
//   double_data, int64_data, int32_data for the 8/16-bit types, bool and the float16 bit
//   patterns) must hold `elements` entries, each in range, and the others must be empty.
// Writing always uses raw_data (little-endian, as ONNX specifies).
#ifndef MP_WORKERS_ENGINE_ONNX_TENSOR_PROTO_H_
#define MP_WORKERS_ENGINE_ONNX_TENSOR_PROTO_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::onnx {

// Remaining bytes that tensors may still allocate during one import.
struct ByteBudget {
  int64_t remaining = 0;
};

absl::StatusOr<tensor::Tensor> TensorFromProto(const ::onnx::TensorProto& proto,
                                               std::string_view what, ByteBudget& budget);
void TensorToProto(const tensor::Tensor& t, std::string_view name, ::onnx::TensorProto* proto);

// ONNX element type -> DType; 0 -> kUndefined; unsupported types -> UNIMPLEMENTED naming
// `what` and the ONNX type name.
absl::StatusOr<tensor::DType> DTypeFromOnnx(int32_t elem_type, std::string_view what);

// A ValueInfoProto's declared type (dtype + partial shape). A missing type or shape is
// unknown; non-tensor types (sequence, map, optional, sparse) -> UNIMPLEMENTED; negative
// dim_value -> INVALID_ARGUMENT; rank > 8 -> UNIMPLEMENTED; over-long dim_param ->
// RESOURCE_EXHAUSTED.
struct DeclaredType {
  tensor::DType dtype = tensor::DType::kUndefined;
  ir::PartialShape shape;
};
absl::StatusOr<DeclaredType> TypeFromValueInfo(const ::onnx::ValueInfoProto& info,
                                               const ImportLimits& limits);
void TypeToValueInfo(const ir::Value& value, ::onnx::ValueInfoProto* info);

}  // namespace mp::onnx

#endif  // MP_WORKERS_ENGINE_ONNX_TENSOR_PROTO_H_
