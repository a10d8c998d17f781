#include "server/service/dataset_format.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/str_cat.h"

namespace mp::service {
namespace {

constexpr size_t kMaxHead = 4 + 4 * 255;  // IDX magic + the largest possible dims list
constexpr std::string_view kNpyMagic = "\x93NUMPY";

// Element size of an IDX type code; 0 if the code is not an IDX type.
int IdxElementSize(unsigned char type) {
  switch (type) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

bool IsIdxMagic(const unsigned char* p) {
  return p[0] == 0 && p[1] == 0 && IdxElementSize(p[2]) != 0 && p[3] >= 1;
}

// Walks protobuf wire format and accepts only TensorProto's fields (onnx.proto, fields
// 1..14) with their legal wire types. Values are skipped, never decoded (except data_type).
class TensorProtoWalker {
 public:
  void Feed(std::string_view bytes) {
    size_t i = 0;
    while (i < bytes.size() && !failed_) {
      if (state_ == State::kSkip) {
        const uint64_t n = std::min<uint64_t>(skip_, bytes.size() - i);
        i += n;
        skip_ -= n;
        if (skip_ == 0) state_ = State::kTag;
        continue;
      }
      const auto byte = static_cast<unsigned char>(bytes[i++]);
      if (varint_bytes_ == 10) {
        failed_ = true;
        break;
      }
      varint_ |= uint64_t{byte & 0x7Fu} << (7 * varint_bytes_);
      ++varint_bytes_;
      if (byte & 0x80u) continue;
      const uint64_t value = varint_;
      varint_ = 0;
      varint_bytes_ = 0;
      OnVarint(value);
    }
  }

  bool Complete() const {
    return !failed_ && state_ == State::kTag && varint_bytes_ == 0 && data_type_ >= 1 &&
           data_type_ <= 16;
  }

 private:
  enum class State { kTag, kValue, kLength, kSkip };

  void OnVarint(uint64_t value) {
    switch (state_) {
      case State::kTag:
        OnTag(value);
        return;
      case State::kValue:
        if (field_ == 2) data_type_ = value;
        state_ = State::kTag;
        return;
      case State::kLength:
        skip_ = value;
        state_ = skip_ == 0 ? State::kTag : State::kSkip;
        return;
      case State::kSkip:
        return;
    }
  }

  void OnTag(uint64_t tag) {
    field_ = tag >> 3;
    const uint64_t wire = tag & 7;
    // Legal wire types per field: bit w set = wire type w allowed.
    static constexpr std::array<unsigned, 15> kAllowed = {
        0,                      // 0: invalid
        (1u << 0) | (1u << 2),  // dims: varint or packed
        (1u << 0),              // data_type
        (1u << 2),              // segment
        (1u << 5) | (1u << 2),  // float_data: fixed32 or packed
        (1u << 0) | (1u << 2),  // int32_data
        (1u << 2),              // string_data
        (1u << 0) | (1u << 2),  // int64_data
        (1u << 2),              // name
        (1u << 2),              // raw_data
        (1u << 1) | (1u << 2),  // double_data: fixed64 or packed
        (1u << 0) | (1u << 2),  // uint64_data
        (1u << 2),              // doc_string
        (1u << 2),              // external_data
        (1u << 0),              // data_location
    };
    if (field_ == 0 || field_ >= kAllowed.size() || !(kAllowed[field_] & (1u << wire))) {
      failed_ = true;
      return;
    }
    switch (wire) {
      case 0:
        state_ = State::kValue;
        return;
      case 1:
        skip_ = 8;
        state_ = State::kSkip;
        return;
      case 2:
        state_ = State::kLength;
        return;
      default:  // 5
        skip_ = 4;
        state_ = State::kSkip;
        return;
    }
  }

  State state_ = State::kTag;
  uint64_t varint_ = 0;
  int varint_bytes_ = 0;
  uint64_t field_ = 0;
  uint64_t skip_ = 0;
  uint64_t data_type_ = 0;
  bool failed_ = false;
};

}  // namespace

struct DatasetFormatDetector::Impl {
  enum class Kind { kUndecided, kNpy, kIdx, kGzip, kOther };

  ~Impl() {
    if (inflating) inflateEnd(&zs);
  }

  void Decide() {
    const auto* p = reinterpret_cast<const unsigned char*>(head.data());
    if (head.size() >= kNpyMagic.size() && head.compare(0, kNpyMagic.size(), kNpyMagic) == 0) {
      kind = Kind::kNpy;
    } else if (head.size() >= 4 && p[0] == 0 && p[1] == 0) {
      kind = Kind::kIdx;
    } else if (head.size() >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08) {
      kind = Kind::kGzip;
      std::memset(&zs, 0, sizeof(zs));
      inflating = inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK;
      Inflate(head);
    } else {
      kind = Kind::kOther;
    }
  }

  // Inflates until the first 4 decompressed bytes are known.
  void Inflate(std::string_view bytes) {
    if (!inflating || gz_have >= gz_out.size() || gz_error) return;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    zs.avail_in = static_cast<uInt>(bytes.size());
    while (zs.avail_in > 0 && gz_have < gz_out.size()) {
      zs.next_out = gz_out.data() + gz_have;
      zs.avail_out = static_cast<uInt>(gz_out.size() - gz_have);
      const int ret = inflate(&zs, Z_NO_FLUSH);
      gz_have = gz_out.size() - zs.avail_out;
      if (ret == Z_STREAM_END) break;
      if (ret != Z_OK) {
        gz_error = true;
        break;
      }
    }
  }

  absl::StatusOr<std::string> Finish() {
    if (kind == Kind::kUndecided) Decide();
    const auto* p = reinterpret_cast<const unsigned char*>(head.data());
    switch (kind) {
      case Kind::kNpy:
        return std::string("npy");
      case Kind::kIdx: {
        if (!IsIdxMagic(p)) {
          return absl::InvalidArgumentError(
              StrCat("unrecognized dataset format: IDX-like magic with type code ",
                     static_cast<int>(p[2]), " and ", static_cast<int>(p[3]), " dims"));
        }
        const size_t header = 4 + 4 * size_t{p[3]};
        if (head.size() < header) {
          return absl::InvalidArgumentError(
              StrCat("IDX header truncated: ", total, " bytes, header needs ", header));
        }
        uint64_t expected = static_cast<uint64_t>(IdxElementSize(p[2]));
        for (size_t d = 0; d < p[3]; ++d) {
          const unsigned char* q = p + 4 + 4 * d;
          const uint64_t dim = (uint64_t{q[0]} << 24) | (uint64_t{q[1]} << 16) |
                               (uint64_t{q[2]} << 8) | uint64_t{q[3]};
          if (__builtin_mul_overflow(expected, dim, &expected)) {
            return absl::InvalidArgumentError("IDX header: dims overflow 64 bits");
          }
        }
        if (expected + header != total) {
          return absl::InvalidArgumentError(
              StrCat("IDX header declares ", expected + header, " bytes, content has ", total));
        }
        return std::string("idx");
      }
      case Kind::kGzip:
        if (gz_have == gz_out.size() && IsIdxMagic(gz_out.data())) return std::string("idx.gz");
        return absl::InvalidArgumentError(
            "gzip content does not start with an IDX header (only gzip'd IDX is accepted)");
      default:
        if (walker.Complete()) return std::string("onnx_tensor");
        return absl::InvalidArgumentError(
            "unrecognized dataset format (expected .npy, IDX, gzip'd IDX or an ONNX "
            "TensorProto)");
    }
  }

  Kind kind = Kind::kUndecided;
  std::string head;
  uint64_t total = 0;
  TensorProtoWalker walker;
  z_stream zs;
  bool inflating = false;
  bool gz_error = false;
  std::array<unsigned char, 4> gz_out{};
  size_t gz_have = 0;
};

DatasetFormatDetector::DatasetFormatDetector() : impl_(std::make_unique<Impl>()) {}
DatasetFormatDetector::~DatasetFormatDetector() = default;

void DatasetFormatDetector::Update(std::string_view chunk) {
  Impl& s = *impl_;
  s.total += chunk.size();
  s.walker.Feed(chunk);
  // Until the format is decided (at 6 bytes), `head` holds every byte seen so far.
  const size_t take = std::min(chunk.size(), kMaxHead - std::min(kMaxHead, s.head.size()));
  s.head.append(chunk.data(), take);
  if (s.kind == Impl::Kind::kUndecided) {
    if (s.head.size() < kNpyMagic.size()) return;
    s.Decide();  // inflates all of head when gzip
    if (s.kind == Impl::Kind::kGzip) s.Inflate(chunk.substr(take));
    return;
  }
  if (s.kind == Impl::Kind::kGzip) s.Inflate(chunk);
}

absl::StatusOr<std::string> DatasetFormatDetector::Finish() { return impl_->Finish(); }

absl::StatusOr<std::string> DetectDatasetFormat(std::string_view content) {
  DatasetFormatDetector detector;
  detector.Update(content);
  return detector.Finish();
}

}  // namespace mp::service
