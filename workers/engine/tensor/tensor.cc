#include "workers/engine/tensor/tensor.h"

#include <cstring>
#include <new>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::tensor {
namespace {

constexpr size_t kAlignment = 64;

std::string DimsToString(std::span<const int64_t> dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(dims[i]);
  }
  out += "]";
  return out;
}

// A zeroed, 64-byte aligned buffer of at least one byte, or nullptr if allocation fails.
std::shared_ptr<uint8_t[]> AllocateBuffer(size_t bytes) {
  const size_t n = bytes == 0 ? 1 : bytes;
  void* p = ::operator new[](n, std::align_val_t{kAlignment}, std::nothrow);
  if (p == nullptr) return nullptr;
  std::memset(p, 0, n);
  return std::shared_ptr<uint8_t[]>(static_cast<uint8_t*>(p), [](uint8_t* q) {
    ::operator delete[](q, std::align_val_t{kAlignment});
  });
}

}  // namespace

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kUndefined:
      return 0;
    case DType::kFloat32:
      return 4;
    case DType::kUint8:
      return 1;
    case DType::kInt8:
      return 1;
    case DType::kInt32:
      return 4;
    case DType::kInt64:
      return 8;
    case DType::kBool:
      return 1;
    case DType::kFloat16:
      return 2;
    case DType::kFloat64:
      return 8;
    case DType::kBFloat16:
      return 2;
  }
  return 0;
}

std::string DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kUndefined:
      return "undefined";
    case DType::kFloat32:
      return "float32";
    case DType::kUint8:
      return "uint8";
    case DType::kInt8:
      return "int8";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kBool:
      return "bool";
    case DType::kFloat16:
      return "float16";
    case DType::kFloat64:
      return "float64";
    case DType::kBFloat16:
      return "bfloat16";
  }
  return StrCat("undefined(", static_cast<int32_t>(dtype), ")");
}

bool IsKnownDType(int32_t value) {
  switch (static_cast<DType>(value)) {
    case DType::kUndefined:
    case DType::kFloat32:
    case DType::kUint8:
    case DType::kInt8:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kBool:
    case DType::kFloat16:
    case DType::kFloat64:
    case DType::kBFloat16:
      return true;
  }
  return false;
}

absl::StatusOr<int64_t> CheckedNumElements(std::span<const int64_t> dims) {
  int64_t count = 1;
  bool overflow = false;
  for (int64_t d : dims) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          StrCat("shape ", DimsToString(dims), " has negative dim ", d));
    }
    int64_t next = 0;
    if (__builtin_mul_overflow(count, d, &next)) {
      overflow = true;  // keep scanning: a later 0 does not make the declaration sane
    } else {
      count = next;
    }
  }
  if (overflow) {
    return absl::InvalidArgumentError(
        StrCat("shape ", DimsToString(dims), ": element count overflows int64"));
  }
  return count;
}

absl::StatusOr<Shape> Shape::Make(std::vector<int64_t> dims) {
  if (dims.size() > static_cast<size_t>(kMaxRank)) {
    return absl::InvalidArgumentError(
        StrCat("shape ", DimsToString(dims), " has rank ", dims.size(), ", more than ", kMaxRank));
  }
  ASSIGN_OR_RETURN(int64_t n, CheckedNumElements(dims));
  Shape s;
  s.dims_ = std::move(dims);
  s.num_elements_ = n;
  return s;
}

Shape::Shape(std::vector<int64_t> dims) {
  absl::StatusOr<Shape> s = Make(std::move(dims));
  MP_CHECK(s.ok()) << std::string(s.status().message());
  *this = *std::move(s);
}

std::string Shape::ToString() const { return DimsToString(dims_); }

absl::StatusOr<Tensor> Tensor::Allocate(DType dtype, Shape shape, int64_t max_bytes) {
  const size_t elem = DTypeSize(dtype);
  if (elem == 0) {
    return absl::InvalidArgumentError(
        StrCat("cannot allocate a tensor of dtype ", DTypeName(dtype)));
  }
  const int64_t n = shape.num_elements();
  if (n > max_bytes / static_cast<int64_t>(elem)) {
    return absl::ResourceExhaustedError(StrCat("tensor ", DTypeName(dtype), shape.ToString(),
                                               " needs more than the limit of ", max_bytes,
                                               " bytes"));
  }
  const size_t bytes = static_cast<size_t>(n) * elem;
  std::shared_ptr<uint8_t[]> buffer = AllocateBuffer(bytes);
  if (buffer == nullptr) {
    return absl::ResourceExhaustedError(StrCat("cannot allocate ", bytes, " bytes for tensor ",
                                               DTypeName(dtype), shape.ToString()));
  }
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.buffer_ = std::move(buffer);
  return t;
}

Tensor Tensor::Zeros(DType dtype, Shape shape) {
  absl::StatusOr<Tensor> t = Allocate(dtype, std::move(shape));
  MP_CHECK(t.ok()) << std::string(t.status().message());
  return *std::move(t);
}

Tensor Tensor::View(const Tensor& other, DType dtype, Shape shape, size_t byte_offset) {
  const size_t bytes = static_cast<size_t>(shape.num_elements()) * DTypeSize(dtype);
  MP_CHECK(other.buffer_ != nullptr) << "view of an empty tensor";
  MP_CHECK(byte_offset <= other.byte_size() && bytes <= other.byte_size() - byte_offset)
      << "view of " << bytes << " bytes at " << byte_offset << " exceeds " << other.DebugString();
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.buffer_ = other.buffer_;
  t.offset_ = other.offset_ + byte_offset;
  return t;
}

Tensor Tensor::Clone() const {
  if (!defined()) return Tensor();
  Tensor t = Zeros(dtype_, shape_);
  if (byte_size() > 0) std::memcpy(t.mutable_raw_data(), raw_data(), byte_size());
  return t;
}

Tensor Tensor::Reshaped(Shape shape) const {
  MP_CHECK_EQ(shape.num_elements(), num_elements())
      << "reshape " << DebugString() << " to " << shape.ToString();
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

std::string Tensor::DebugString() const { return DTypeName(dtype_) + shape_.ToString(); }

}  // namespace mp::tensor
