#include "workers/engine/ir/attribute.h"

#include <cstring>
#include <sstream>

#include "common/str_cat.h"

namespace mp::ir {
namespace {

template <typename T>
std::string JoinList(const std::vector<T>& v) {
  std::ostringstream os;
  os.precision(8);
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) os << ", ";
    if constexpr (std::is_same_v<T, std::string>) {
      os << '"' << v[i] << '"';
    } else {
      os << v[i];
    }
  }
  os << "]";
  return os.str();
}

bool SameTensor(const tensor::Tensor& a, const tensor::Tensor& b) {
  if (a.dtype() != b.dtype() || !(a.shape() == b.shape())) return false;
  if (a.byte_size() == 0) return true;
  return std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

}  // namespace

const char* AttrTypeName(AttrType type) {
  switch (type) {
    case AttrType::kFloat:
      return "float";
    case AttrType::kInt:
      return "int";
    case AttrType::kString:
      return "string";
    case AttrType::kTensor:
      return "tensor";
    case AttrType::kFloats:
      return "floats";
    case AttrType::kInts:
      return "ints";
    case AttrType::kStrings:
      return "strings";
  }
  return "unknown";
}

AttrType Attribute::type() const {
  switch (value_.index()) {
    case 0:
      return AttrType::kInt;
    case 1:
      return AttrType::kFloat;
    case 2:
      return AttrType::kString;
    case 3:
      return AttrType::kTensor;
    case 4:
      return AttrType::kInts;
    case 5:
      return AttrType::kFloats;
    default:
      return AttrType::kStrings;
  }
}

bool operator==(const Attribute& a, const Attribute& b) {
  if (a.name_ != b.name_ || a.value_.index() != b.value_.index()) return false;
  return std::visit(
      [&b](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b.value_);
        if constexpr (std::is_same_v<T, tensor::Tensor>) {
          return SameTensor(x, y);
        } else {
          return x == y;
        }
      },
      a.value_);
}

std::string Attribute::DebugString() const {
  std::string v;
  switch (type()) {
    case AttrType::kInt:
      v = StrCat(i());
      break;
    case AttrType::kFloat:
      v = StrCat(f());
      break;
    case AttrType::kString:
      v = StrCat('"', s(), '"');
      break;
    case AttrType::kTensor:
      v = t().DebugString();
      break;
    case AttrType::kInts:
      v = JoinList(ints());
      break;
    case AttrType::kFloats:
      v = JoinList(floats());
      break;
    case AttrType::kStrings:
      v = JoinList(strings());
      break;
  }
  return StrCat(name_, "=", v);
}

}  // namespace mp::ir
