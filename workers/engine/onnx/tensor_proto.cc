#include "workers/engine/onnx/tensor_proto.h"

#include <bit>
#include <cstring>
#include <limits>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::onnx {
namespace {

static_assert(std::endian::native == std::endian::little,
              "raw_data is little-endian; add byte swapping for big-endian hosts");

using ::onnx::TensorProto;
using tensor::DType;

std::string OnnxTypeName(int32_t elem_type) {
  if (TensorProto::DataType_IsValid(elem_type)) {
    return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(elem_type));
  }
  return StrCat("invalid type ", elem_type);
}

absl::Status Invalid(std::string_view what, const std::string& rule) {
  return absl::InvalidArgumentError(StrCat(what, ": ", rule));
}

// Copies a repeated typed field into `out`, converting each entry with range checks.
template <typename Dst, typename Field>
absl::Status CopyTyped(const Field& field, int64_t lo, int64_t hi, std::string_view what,
                       std::string_view field_name, Dst* out) {
  for (int i = 0; i < field.size(); ++i) {
    const auto v = field.Get(i);
    if constexpr (std::is_integral_v<std::decay_t<decltype(v)>> && !std::is_same_v<Dst, int64_t>) {
      if (v < lo || v > hi) {
        return Invalid(
            what, StrCat(field_name, "[", i, "] = ", v, " is out of range [", lo, ", ", hi, "]"));
      }
    }
    out[i] = static_cast<Dst>(v);
  }
  return absl::OkStatus();
}

struct FieldCounts {
  int64_t float_data, double_data, int32_data, int64_data, string_data, uint64_data;
};

// Name and size of the typed field `dtype` uses.
std::pair<const char*, int64_t> ExpectedField(DType dtype, const FieldCounts& c) {
  switch (dtype) {
    case DType::kFloat32:
      return {"float_data", c.float_data};
    case DType::kFloat64:
      return {"double_data", c.double_data};
    case DType::kInt64:
      return {"int64_data", c.int64_data};
    default:
      return {"int32_data", c.int32_data};
  }
}

}  // namespace

absl::StatusOr<DType> DTypeFromOnnx(int32_t elem_type, std::string_view what) {
  if (elem_type == 0) return DType::kUndefined;
  if (!tensor::IsKnownDType(elem_type)) {
    return absl::UnimplementedError(
        StrCat(what, ": element type ", OnnxTypeName(elem_type), " is not supported"));
  }
  return static_cast<DType>(elem_type);
}

absl::StatusOr<tensor::Tensor> TensorFromProto(const TensorProto& p, std::string_view what,
                                               ByteBudget& budget) {
  if (p.data_location() == TensorProto::EXTERNAL || p.external_data_size() > 0) {
    std::string location;
    for (const auto& kv : p.external_data()) {
      if (kv.key() == "location") location = kv.value().substr(0, 256);
    }
    return Invalid(what, StrCat("external data ('", location,
                                "') is not supported; embed the weights in the model"));
  }
  if (p.has_segment()) return absl::UnimplementedError(StrCat(what, ": segmented tensor"));
  ASSIGN_OR_RETURN(DType dtype, DTypeFromOnnx(p.data_type(), what));
  if (dtype == DType::kUndefined) return Invalid(what, "data_type is not set");
  if (p.dims_size() > tensor::Shape::kMaxRank) {
    return Invalid(what, StrCat("rank ", p.dims_size(), " exceeds ", tensor::Shape::kMaxRank));
  }
  std::vector<int64_t> dims(p.dims().begin(), p.dims().end());
  absl::StatusOr<tensor::Shape> shape = tensor::Shape::Make(std::move(dims));
  if (!shape.ok()) return Annotate(shape.status(), what);
  const int64_t n = shape->num_elements();
  const int64_t elem = static_cast<int64_t>(tensor::DTypeSize(dtype));
  if (n > std::numeric_limits<int64_t>::max() / elem) {
    return Invalid(what, StrCat("byte size of ", tensor::DTypeName(dtype), shape->ToString(),
                                " overflows int64"));
  }
  const int64_t bytes = n * elem;
  if (bytes > budget.remaining) {
    return absl::ResourceExhaustedError(
        StrCat(what, ": ", tensor::DTypeName(dtype), shape->ToString(), " needs ", bytes,
               " bytes, more than the remaining tensor budget of ", budget.remaining));
  }
  const FieldCounts counts{p.float_data_size(), p.double_data_size(), p.int32_data_size(),
                           p.int64_data_size(), p.string_data_size(), p.uint64_data_size()};
  const int64_t typed_total = counts.float_data + counts.double_data + counts.int32_data +
                              counts.int64_data + counts.string_data + counts.uint64_data;
  const std::string desc = StrCat(" (", tensor::DTypeName(dtype), shape->ToString(), ")");
  if (p.has_raw_data()) {
    if (typed_total > 0) return Invalid(what, "both raw_data and a typed data field are set");
    if (static_cast<int64_t>(p.raw_data().size()) != bytes) {
      return Invalid(
          what, StrCat("raw_data has ", p.raw_data().size(), " bytes, expected ", bytes, desc));
    }
  } else {
    const auto [field, count] = ExpectedField(dtype, counts);
    if (count != n) {
      return Invalid(what, StrCat(field, " has ", count, " entries, expected ", n, desc));
    }
    if (typed_total != count) {
      return Invalid(what, StrCat("data fields other than ", field, " are set", desc));
    }
  }
  ASSIGN_OR_RETURN(tensor::Tensor t, tensor::Tensor::Allocate(dtype, *shape, bytes));
  budget.remaining -= bytes;
  if (p.has_raw_data()) {
    if (bytes > 0) std::memcpy(t.mutable_raw_data(), p.raw_data().data(), p.raw_data().size());
    if (dtype == DType::kBool) {
      for (uint8_t b : std::span(static_cast<const uint8_t*>(t.raw_data()), n)) {
        if (b > 1) return Invalid(what, StrCat("bool raw_data holds byte ", int{b}));
      }
    }
    return t;
  }
  void* out = t.mutable_raw_data();
  absl::Status s;
  switch (dtype) {
    case DType::kFloat32:
      s = CopyTyped(p.float_data(), 0, 0, what, "float_data", static_cast<float*>(out));
      break;
    case DType::kFloat64:
      s = CopyTyped(p.double_data(), 0, 0, what, "double_data", static_cast<double*>(out));
      break;
    case DType::kInt64:
      s = CopyTyped(p.int64_data(), 0, 0, what, "int64_data", static_cast<int64_t*>(out));
      break;
    case DType::kInt32:
      s = CopyTyped(p.int32_data(), std::numeric_limits<int32_t>::min(),
                    std::numeric_limits<int32_t>::max(), what, "int32_data",
                    static_cast<int32_t*>(out));
      break;
    case DType::kUint8:
      s = CopyTyped(p.int32_data(), 0, 255, what, "int32_data", static_cast<uint8_t*>(out));
      break;
    case DType::kInt8:
      s = CopyTyped(p.int32_data(), -128, 127, what, "int32_data", static_cast<int8_t*>(out));
      break;
    case DType::kBool:
      s = CopyTyped(p.int32_data(), 0, 1, what, "int32_data", static_cast<uint8_t*>(out));
      break;
    case DType::kFloat16:
    case DType::kBFloat16:
      s = CopyTyped(p.int32_data(), 0, 65535, what, "int32_data", static_cast<uint16_t*>(out));
      break;
    case DType::kUndefined:
      break;
  }
  RETURN_IF_ERROR(s);
  return t;
}

void TensorToProto(const tensor::Tensor& t, std::string_view name, TensorProto* p) {
  p->Clear();
  p->set_name(std::string(name));
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape().dims()) p->add_dims(d);
  p->set_raw_data(std::string(static_cast<const char*>(t.raw_data()), t.byte_size()));
}

absl::StatusOr<DeclaredType> TypeFromValueInfo(const ::onnx::ValueInfoProto& info,
                                               const ImportLimits& limits) {
  const std::string what = StrCat("value '", info.name(), "'");
  DeclaredType out;
  if (!info.has_type() || info.type().value_case() == ::onnx::TypeProto::VALUE_NOT_SET) {
    return out;
  }
  const ::onnx::TypeProto& type = info.type();
  if (!type.has_tensor_type()) {
    return absl::UnimplementedError(
        StrCat(what,
               ": only tensor types are supported (sequence, map, optional and sparse "
               "types are not)"));
  }
  const ::onnx::TypeProto::Tensor& tt = type.tensor_type();
  ASSIGN_OR_RETURN(out.dtype, DTypeFromOnnx(tt.elem_type(), what));
  if (!tt.has_shape()) return out;
  if (tt.shape().dim_size() > tensor::Shape::kMaxRank) {
    return absl::UnimplementedError(StrCat(what, ": declared rank ", tt.shape().dim_size(),
                                           " exceeds ", tensor::Shape::kMaxRank));
  }
  std::vector<ir::Dim> dims;
  for (const auto& d : tt.shape().dim()) {
    ir::Dim dim;
    if (d.has_dim_value()) {
      if (d.dim_value() < 0) {
        return absl::InvalidArgumentError(
            StrCat(what, ": declared dim ", dims.size(), " is negative (", d.dim_value(), ")"));
      }
      dim.size = d.dim_value();
    } else if (d.has_dim_param()) {
      if (static_cast<int64_t>(d.dim_param().size()) > limits.max_name_bytes) {
        return absl::ResourceExhaustedError(
            StrCat(what, ": dim_param longer than ", limits.max_name_bytes, " bytes"));
      }
      dim.param = d.dim_param();
    }
    dims.push_back(std::move(dim));
  }
  out.shape = ir::PartialShape(std::move(dims));
  return out;
}

void TypeToValueInfo(const ir::Value& value, ::onnx::ValueInfoProto* info) {
  info->set_name(value.name());
  if (!value.doc_string().empty()) info->set_doc_string(value.doc_string());
  if (value.dtype() == DType::kUndefined && !value.shape().has_rank()) return;
  ::onnx::TypeProto::Tensor* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(value.dtype()));
  if (!value.shape().has_rank()) return;
  ::onnx::TensorShapeProto* shape = tt->mutable_shape();
  for (const ir::Dim& d : value.shape().dims()) {
    ::onnx::TensorShapeProto::Dimension* dim = shape->add_dim();
    if (d.known()) {
      dim->set_dim_value(d.size);
    } else if (!d.param.empty()) {
      dim->set_dim_param(d.param);
    }
  }
}

}  // namespace mp::onnx
