// mp::tensor — element types, shapes and the aligned, reference-counted Tensor.
//
// A Tensor is (dtype, shape, buffer, byte offset). Copies are shallow: they share the
// buffer, like a shared_ptr; Clone() deep-copies. Buffers are 64-byte aligned so SIMD
// kernels may use aligned loads at offset 0. Dims are int64 as in ONNX; a validated Shape
// has every dim >= 0 and an element count that fits in int64 (checked arithmetic), so code
// holding a Shape never re-checks overflow.
#ifndef MP_WORKERS_ENGINE_TENSOR_TENSOR_H_
#define MP_WORKERS_ENGINE_TENSOR_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/check.h"

namespace mp::tensor {

// Numbered as ONNX TensorProto.DataType.
enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUint8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kBFloat16 = 16,
};

// Bytes per element; 0 for kUndefined.
size_t DTypeSize(DType dtype);
// "float32", "uint8", ...; "undefined(N)" for unknown values.
std::string DTypeName(DType dtype);
// True if `value` is one of the enumerators above.
bool IsKnownDType(int32_t value);

// The C++ type for a DType; static checks in Tensor::data<T>().
template <typename T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType DTypeOf<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType DTypeOf<uint8_t>() {
  return DType::kUint8;
}
template <>
constexpr DType DTypeOf<int8_t>() {
  return DType::kInt8;
}
template <>
constexpr DType DTypeOf<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType DTypeOf<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType DTypeOf<bool>() {
  return DType::kBool;
}

class Shape {
 public:
  Shape() = default;  // a scalar: rank 0, one element
  // Validates: every dim >= 0, the element count fits in int64, rank <= kMaxRank.
  static absl::StatusOr<Shape> Make(std::vector<int64_t> dims);
  // For dims known valid (MP_CHECKs the same rules).
  explicit Shape(std::vector<int64_t> dims);
  Shape(std::initializer_list<int64_t> dims) : Shape(std::vector<int64_t>(dims)) {}

  static constexpr int kMaxRank = 8;

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t dim(int i) const { return dims_[static_cast<size_t>(i)]; }
  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t num_elements() const { return num_elements_; }
  // "[2, 3, 4]"
  std::string ToString() const;

  friend bool operator==(const Shape& a, const Shape& b) { return a.dims_ == b.dims_; }

 private:
  std::vector<int64_t> dims_;
  int64_t num_elements_ = 1;
};

// Element count of `dims` in checked arithmetic; INVALID_ARGUMENT on a negative dim or
// overflow (message names the dims).
absl::StatusOr<int64_t> CheckedNumElements(std::span<const int64_t> dims);

class Tensor {
 public:
  Tensor() = default;  // undefined dtype, no buffer

  // Zero-filled tensor. RESOURCE_EXHAUSTED if the byte size exceeds `max_bytes` or the
  // allocation fails.
  static absl::StatusOr<Tensor> Allocate(DType dtype, Shape shape,
                                         int64_t max_bytes = int64_t{1} << 34);
  // Same, for sizes already validated (MP_CHECKs success).
  static Tensor Zeros(DType dtype, Shape shape);
  // A tensor over `count` values copied from `values`.
  template <typename T>
  static Tensor FromVector(Shape shape, const std::vector<T>& values);
  // A view of `other`'s buffer at `byte_offset` with another shape/dtype; the caller
  // guarantees it fits (MP_CHECKed).
  static Tensor View(const Tensor& other, DType dtype, Shape shape, size_t byte_offset);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t num_elements() const { return shape_.num_elements(); }
  size_t byte_size() const { return static_cast<size_t>(num_elements()) * DTypeSize(dtype_); }
  bool defined() const { return dtype_ != DType::kUndefined; }

  const void* raw_data() const { return buffer_ ? buffer_.get() + offset_ : nullptr; }
  void* mutable_raw_data() { return buffer_ ? buffer_.get() + offset_ : nullptr; }

  template <typename T>
  const T* data() const {
    MP_CHECK(dtype_ == DTypeOf<T>()) << "tensor is " << DTypeName(dtype_);
    return static_cast<const T*>(raw_data());
  }
  template <typename T>
  T* mutable_data() {
    MP_CHECK(dtype_ == DTypeOf<T>()) << "tensor is " << DTypeName(dtype_);
    return static_cast<T*>(mutable_raw_data());
  }
  template <typename T>
  std::span<const T> span() const {
    return {data<T>(), static_cast<size_t>(num_elements())};
  }

  // Deep copy into a fresh buffer.
  Tensor Clone() const;
  // Same buffer, new shape with the same element count (MP_CHECKed).
  Tensor Reshaped(Shape shape) const;
  // True when both share a buffer (aliasing).
  bool SharesBufferWith(const Tensor& other) const { return buffer_ == other.buffer_; }
  // "float32[2, 3]"
  std::string DebugString() const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  std::shared_ptr<uint8_t[]> buffer_;
  size_t offset_ = 0;
};

template <typename T>
Tensor Tensor::FromVector(Shape shape, const std::vector<T>& values) {
  MP_CHECK_EQ(static_cast<int64_t>(values.size()), shape.num_elements());
  Tensor t = Zeros(DTypeOf<T>(), std::move(shape));
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < values.size(); ++i) t.mutable_data<bool>()[i] = values[i];
  } else {
    std::copy(values.begin(), values.end(), t.mutable_data<T>());
  }
  return t;
}

}  // namespace mp::tensor

#endif  // MP_WORKERS_ENGINE_TENSOR_TENSOR_H_
