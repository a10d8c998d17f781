// mp::ir::Attribute — a named node attribute holding one of the ONNX attribute kinds the
// engine supports: int, float, string, tensor, ints, floats, strings. (Subgraph attributes
// of If/Loop/Scan are rejected by the importer; sparse tensors and type protos likewise.)
//
// Node::GetInt / GetFloat / ... (graph.h) are the typed, error-reporting accessors; this
// class is the value type they read.
#ifndef MP_WORKERS_ENGINE_IR_ATTRIBUTE_H_
#define MP_WORKERS_ENGINE_IR_ATTRIBUTE_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "workers/engine/tensor/tensor.h"

namespace mp::ir {

// Numbered as ONNX AttributeProto.AttributeType where it overlaps.
enum class AttrType : int32_t {
  kFloat = 1,
  kInt = 2,
  kString = 3,
  kTensor = 4,
  kFloats = 6,
  kInts = 7,
  kStrings = 8,
};

// "int", "floats", ...
const char* AttrTypeName(AttrType type);

class Attribute {
 public:
  using Variant = std::variant<int64_t, float, std::string, tensor::Tensor, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>>;

  Attribute() = default;
  Attribute(std::string name, int64_t v) : name_(std::move(name)), value_(v) {}
  Attribute(std::string name, float v) : name_(std::move(name)), value_(v) {}
  Attribute(std::string name, std::string v) : name_(std::move(name)), value_(std::move(v)) {}
  Attribute(std::string name, tensor::Tensor v) : name_(std::move(name)), value_(std::move(v)) {}
  Attribute(std::string name, std::vector<int64_t> v)
      : name_(std::move(name)), value_(std::move(v)) {}
  Attribute(std::string name, std::vector<float> v)
      : name_(std::move(name)), value_(std::move(v)) {}
  Attribute(std::string name, std::vector<std::string> v)
      : name_(std::move(name)), value_(std::move(v)) {}

  const std::string& name() const { return name_; }
  AttrType type() const;
  const Variant& value() const { return value_; }

  // Unchecked accessors: MP_CHECK that type() matches. Use Node::Get* for input-derived data.
  int64_t i() const { return Get<int64_t>(); }
  float f() const { return Get<float>(); }
  const std::string& s() const { return Get<std::string>(); }
  const tensor::Tensor& t() const { return Get<tensor::Tensor>(); }
  const std::vector<int64_t>& ints() const { return Get<std::vector<int64_t>>(); }
  const std::vector<float>& floats() const { return Get<std::vector<float>>(); }
  const std::vector<std::string>& strings() const { return Get<std::vector<std::string>>(); }

  // Value equality (tensors compared by dtype, shape and bytes).
  friend bool operator==(const Attribute& a, const Attribute& b);
  // "axis=1", "pads=[0, 0, 1, 1]", "value=float32[3]".
  std::string DebugString() const;

 private:
  template <typename T>
  const T& Get() const {
    const T* p = std::get_if<T>(&value_);
    MP_CHECK(p != nullptr) << "attribute '" << name_ << "' is " << AttrTypeName(type());
    return *p;
  }

  std::string name_;
  Variant value_;
};

}  // namespace mp::ir

#endif  // MP_WORKERS_ENGINE_IR_ATTRIBUTE_H_
