// The .npy preamble and header dict (format in npy.h): a strict parser and the writer.
//
// The dict is parsed as the tiny Python-literal subset numpy writes, not evaluated:
//   dict   := '{' [entry (',' entry)* [',']] '}'       whitespace allowed between tokens
//   entry  := str ':' value                           keys descr, fortran_order, shape once
//   str    := '...' | "..."                           no escapes
//   value  := str | 'True' | 'False' | tuple
//   tuple  := '(' ')' | '(' int ',' ')' | '(' int (',' int)+ [','] ')'
//   int    := '0' | [1-9][0-9]* ['L']                 ('L': Python 2 longs in old files)
// After '}' only spaces may follow, and the header must end with '\n'.
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/data/npy_internal.h"

namespace mp::data {
namespace {

using tensor::DType;

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

class DictParser {
 public:
  DictParser(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  absl::Status Parse(std::string* descr, bool* fortran, std::vector<int64_t>* dims) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    RETURN_IF_ERROR(Expect('{'));
    SkipSpace();
    while (!Peek('}')) {
      std::string key;
      RETURN_IF_ERROR(ParseString(&key));
      RETURN_IF_ERROR(Expect(':'));
      SkipSpace();
      if (key == "descr") {
        if (have_descr) return Error("duplicate key 'descr'");
        have_descr = true;
        RETURN_IF_ERROR(ParseString(descr));
      } else if (key == "fortran_order") {
        if (have_fortran) return Error("duplicate key 'fortran_order'");
        have_fortran = true;
        RETURN_IF_ERROR(ParseBool(fortran));
      } else if (key == "shape") {
        if (have_shape) return Error("duplicate key 'shape'");
        have_shape = true;
        RETURN_IF_ERROR(ParseShape(dims));
      } else {
        return Error(StrCat("unexpected key '", key, "'"));
      }
      SkipSpace();
      if (Peek(',')) {
        ++pos_;
        SkipSpace();
      } else if (!Peek('}')) {
        return Error("expected ',' or '}'");
      }
    }
    ++pos_;  // '}'
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
    if (pos_ + 1 != text_.size() || text_[pos_] != '\n') {
      return Error("header must end with spaces and '\\n' after the dict");
    }
    if (!have_descr) return Error("missing key 'descr'");
    if (!have_fortran) return Error("missing key 'fortran_order'");
    if (!have_shape) return Error("missing key 'shape'");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        StrCat(name_, ": malformed .npy header at byte ", pos_, ": ", what));
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  absl::Status Expect(char c) {
    SkipSpace();
    if (!Peek(c)) return Error(StrCat("expected '", std::string(1, c), "'"));
    ++pos_;
    return absl::OkStatus();
  }
  absl::Status ParseString(std::string* out) {
    if (!Peek('\'') && !Peek('"')) return Error("expected a quoted string");
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return Error("unterminated string");
    std::string_view s = text_.substr(pos_, end - pos_);
    if (s.find('\\') != std::string_view::npos || s.find('\n') != std::string_view::npos) {
      return Error("escapes and newlines are not allowed in strings");
    }
    *out = std::string(s);
    pos_ = end + 1;
    return absl::OkStatus();
  }
  absl::Status ParseBool(bool* out) {
    if (text_.substr(pos_, 4) == "True") {
      *out = true;
      pos_ += 4;
    } else if (text_.substr(pos_, 5) == "False") {
      *out = false;
      pos_ += 5;
    } else {
      return Error("expected True or False");
    }
    return absl::OkStatus();
  }
  absl::Status ParseInt(int64_t* out) {
    const size_t start = pos_;
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (__builtin_mul_overflow(value, 10, &value) ||
          __builtin_add_overflow(value, text_[pos_] - '0', &value)) {
        return Error("dimension does not fit in int64");
      }
      ++pos_;
    }
    if (pos_ == start) return Error("expected a non-negative integer dimension");
    if (text_[start] == '0' && pos_ - start > 1) return Error("leading zero in dimension");
    if (Peek('L')) ++pos_;
    *out = value;
    return absl::OkStatus();
  }
  absl::Status ParseShape(std::vector<int64_t>* dims) {
    RETURN_IF_ERROR(Expect('('));
    dims->clear();
    bool trailing_comma = false;
    SkipSpace();
    while (!Peek(')')) {
      if (dims->size() > static_cast<size_t>(tensor::Shape::kMaxRank)) {
        return Error(StrCat("shape has more than ", tensor::Shape::kMaxRank, " dims"));
      }
      int64_t d = 0;
      RETURN_IF_ERROR(ParseInt(&d));
      dims->push_back(d);
      SkipSpace();
      trailing_comma = Peek(',');
      if (trailing_comma) {
        ++pos_;
        SkipSpace();
      } else if (!Peek(')')) {
        return Error("expected ',' or ')' in shape");
      }
    }
    if (dims->size() == 1 && !trailing_comma) return Error("'(n)' is not a tuple; write '(n,)'");
    ++pos_;  // ')'
    return absl::OkStatus();
  }

  std::string_view text_;
  std::string_view name_;
  size_t pos_ = 0;
};

struct DescrEntry {
  const char* descr;
  DType dtype;
};
// Canonical spellings first: DescrOf returns the first match.
constexpr DescrEntry kDescrs[] = {
    {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<f2", DType::kFloat16},
    {"<i8", DType::kInt64},   {"<i4", DType::kInt32},   {"|u1", DType::kUint8},
    {"|i1", DType::kInt8},    {"|b1", DType::kBool},    {"<u1", DType::kUint8},
    {"<i1", DType::kInt8},    {"<b1", DType::kBool},
};

}  // namespace

namespace internal {

const char* NpyDescrOf(DType dtype) {
  for (const DescrEntry& e : kDescrs) {
    if (e.dtype == dtype) return e.descr;
  }
  return nullptr;
}

std::string EncodeNpyHeader(DType dtype, const tensor::Shape& shape) {
  const char* descr = NpyDescrOf(dtype);
  MP_CHECK(descr != nullptr) << tensor::DTypeName(dtype);
  std::string dims;
  for (int i = 0; i < shape.rank(); ++i) dims += StrCat(i > 0 ? ", " : "", shape.dim(i));
  if (shape.rank() == 1) dims += ",";
  std::string dict =
      StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (", dims, "), }");
  // Rank <= 8 dims of <= 19 digits keep the dict far below version 1.0's 65535 bytes.
  constexpr size_t kPreamble = 10;
  const size_t total = (kPreamble + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - kPreamble - dict.size() - 1, ' ');
  dict.push_back('\n');
  MP_CHECK_LE(dict.size(), 65535u);
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  out += dict;
  return out;
}

}  // namespace internal

absl::StatusOr<NpyHeader> ParseNpyHeader(std::string_view prefix, std::string_view name) {
  if (prefix.size() < kMagicSize || std::memcmp(prefix.data(), kMagic, kMagicSize) != 0) {
    if (prefix.empty()) return absl::InvalidArgumentError(StrCat(name, ": empty file"));
    return absl::InvalidArgumentError(StrCat(name, ": not a .npy file (bad magic)"));
  }
  if (prefix.size() < 8) return absl::InvalidArgumentError(StrCat(name, ": truncated header"));
  const uint8_t major = static_cast<uint8_t>(prefix[6]);
  const uint8_t minor = static_cast<uint8_t>(prefix[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    return absl::InvalidArgumentError(
        StrCat(name, ": unsupported .npy version ", major, ".", minor));
  }
  const size_t len_bytes = major == 1 ? 2 : 4;
  if (prefix.size() < 8 + len_bytes) {
    return absl::InvalidArgumentError(StrCat(name, ": truncated header"));
  }
  uint64_t header_len = 0;
  for (size_t i = 0; i < len_bytes; ++i) {
    header_len |= uint64_t{static_cast<uint8_t>(prefix[8 + i])} << (8 * i);
  }
  const uint64_t data_offset = 8 + len_bytes + header_len;
  if (prefix.size() < data_offset) {
    return absl::InvalidArgumentError(StrCat(name, ": truncated header (declares ", header_len,
                                             " header bytes, have ", prefix.size() - 8 - len_bytes,
                                             ")"));
  }
  const std::string_view text = prefix.substr(8 + len_bytes, header_len);
  if (major < 3) {
    for (char c : text) {
      if (static_cast<uint8_t>(c) >= 0x80) {
        return absl::InvalidArgumentError(StrCat(name, ": non-ASCII byte in .npy header"));
      }
    }
  }
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> dims;
  RETURN_IF_ERROR(DictParser(text, name).Parse(&descr, &fortran, &dims));

  NpyHeader header;
  for (const DescrEntry& e : kDescrs) {
    if (descr == e.descr) header.dtype = e.dtype;
  }
  if (header.dtype == DType::kUndefined) {
    if (!descr.empty() && descr[0] == '>') {
      return absl::InvalidArgumentError(StrCat(name, ": big-endian dtype '", descr,
                                               "' is not supported (use astype('<", descr.substr(1),
                                               "'))"));
    }
    return absl::InvalidArgumentError(StrCat(name, ": unsupported dtype '", descr,
                                             "' (supported: <f4 <f8 <f2 <i8 <i4 |u1 |i1 |b1)"));
  }
  if (fortran) {
    return absl::InvalidArgumentError(
        StrCat(name,
               ": fortran_order arrays are not supported; save a C-order array "
               "(np.save(path, np.ascontiguousarray(a)))"));
  }
  auto shape = tensor::Shape::Make(std::move(dims));
  if (!shape.ok()) return Annotate(shape.status(), name);
  header.shape = *std::move(shape);
  int64_t bytes = 0;
  if (__builtin_mul_overflow(header.shape.num_elements(),
                             static_cast<int64_t>(tensor::DTypeSize(header.dtype)), &bytes)) {
    return absl::InvalidArgumentError(
        StrCat(name, ": shape ", header.shape.ToString(), " of ", descr, " overflows int64 bytes"));
  }
  header.data_offset = static_cast<int64_t>(data_offset);
  header.data_bytes = bytes;
  return header;
}

}  // namespace mp::data
