#include "workers/engine/data/idx.h"

#include <bit>
#include <cstring>
#include <vector>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/data/gzip.h"

namespace mp::data {
namespace {

using tensor::DType;
using tensor::Tensor;

absl::StatusOr<DType> IdxType(uint8_t code, std::string_view name) {
  switch (code) {
    case 0x08:
      return DType::kUint8;
    case 0x09:
      return DType::kInt8;
    case 0x0C:
      return DType::kInt32;
    case 0x0D:
      return DType::kFloat32;
    case 0x0E:
      return DType::kFloat64;
    case 0x0B:
      return absl::UnimplementedError(StrCat(name, ": IDX type 0x0B (int16) is not supported"));
    default:
      return absl::InvalidArgumentError(StrCat(name, ": unknown IDX element type 0x",
                                               "0123456789abcdef"[code >> 4],
                                               "0123456789abcdef"[code & 15]));
  }
}

uint32_t LoadBigEndian32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// Copies `count` big-endian elements of `size` bytes from `src` into native order at `dst`.
void CopyFromBigEndian(const unsigned char* src, size_t size, int64_t count, unsigned char* dst) {
  for (int64_t i = 0; i < count; ++i) {
    for (size_t b = 0; b < size; ++b) {
      // Little-endian host: reverse each element's bytes.
      if constexpr (std::endian::native == std::endian::little) {
        dst[b] = src[size - 1 - b];
      } else {
        dst[b] = src[b];
      }
    }
    src += size;
    dst += size;
  }
}

absl::StatusOr<Tensor> ParseRawIdx(std::string_view bytes, std::string_view name) {
  if (bytes.empty()) return absl::InvalidArgumentError(StrCat(name, ": empty file"));
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) return absl::InvalidArgumentError(StrCat(name, ": truncated IDX magic"));
  if (p[0] != 0 || p[1] != 0) {
    return absl::InvalidArgumentError(
        StrCat(name, ": not an IDX file (magic must start with two zero bytes)"));
  }
  ASSIGN_OR_RETURN(DType dtype, IdxType(p[2], name));
  const int rank = p[3];
  if (rank < 1 || rank > tensor::Shape::kMaxRank) {
    return absl::InvalidArgumentError(
        StrCat(name, ": IDX rank ", rank, " is outside [1, ", tensor::Shape::kMaxRank, "]"));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < header) {
    return absl::InvalidArgumentError(
        StrCat(name, ": truncated IDX header (", bytes.size(), " bytes, rank ", rank, ")"));
  }
  std::vector<int64_t> dims;
  for (int i = 0; i < rank; ++i) dims.push_back(LoadBigEndian32(p + 4 + 4 * i));
  auto shape = tensor::Shape::Make(std::move(dims));
  if (!shape.ok()) return Annotate(shape.status(), name);
  const size_t item = tensor::DTypeSize(dtype);
  int64_t need = 0;
  if (__builtin_mul_overflow(shape->num_elements(), static_cast<int64_t>(item), &need)) {
    return absl::InvalidArgumentError(
        StrCat(name, ": IDX shape ", shape->ToString(), " overflows int64 bytes"));
  }
  const int64_t have = static_cast<int64_t>(bytes.size() - header);
  if (have != need) {
    return absl::InvalidArgumentError(StrCat(
        name, have < need ? ": truncated: " : ": trailing bytes: ", have, " data bytes, but shape ",
        shape->ToString(), " of ", tensor::DTypeName(dtype), " needs ", need));
  }
  auto t = Tensor::Allocate(dtype, *shape);
  if (!t.ok()) return Annotate(t.status(), name);
  auto* dst = static_cast<unsigned char*>(t->mutable_raw_data());
  if (item == 1) {
    if (need > 0) std::memcpy(dst, p + header, static_cast<size_t>(need));
  } else {
    CopyFromBigEndian(p + header, item, shape->num_elements(), dst);
  }
  return *std::move(t);
}

}  // namespace

absl::StatusOr<Tensor> ParseIdx(std::string_view bytes, std::string_view name,
                                const IdxReadOptions& options) {
  if (static_cast<int64_t>(bytes.size()) > options.max_bytes) {
    return absl::ResourceExhaustedError(
        StrCat(name, ": ", bytes.size(), " bytes, over the limit of ", options.max_bytes));
  }
  if (!LooksGzipped(bytes)) return ParseRawIdx(bytes, name);
  ASSIGN_OR_RETURN(std::string raw, GunzipBounded(bytes, name, options.max_bytes));
  return ParseRawIdx(raw, name);
}

absl::StatusOr<Tensor> ReadIdx(const std::string& path, const IdxReadOptions& options) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, static_cast<uint64_t>(options.max_bytes)));
  return ParseIdx(bytes, path, options);
}

}  // namespace mp::data
