// Node, PartialShape and Model members of graph.h (Graph itself is in graph.cc).
#include <algorithm>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/graph.h"

namespace mp::ir {

// ---- PartialShape ---------------------------------------------------------------------

PartialShape PartialShape::Of(const tensor::Shape& shape) { return FromSizes(shape.dims()); }

PartialShape PartialShape::FromSizes(std::span<const int64_t> sizes) {
  std::vector<Dim> dims;
  dims.reserve(sizes.size());
  for (int64_t s : sizes) dims.push_back(Dim{s < 0 ? -1 : s, ""});
  return PartialShape(std::move(dims));
}

int PartialShape::rank() const { return static_cast<int>(dims().size()); }

const std::vector<Dim>& PartialShape::dims() const {
  MP_CHECK(dims_.has_value()) << "shape of unknown rank";
  return *dims_;
}

bool PartialShape::is_static() const {
  return dims_.has_value() &&
         std::all_of(dims_->begin(), dims_->end(), [](const Dim& d) { return d.known(); });
}

absl::StatusOr<tensor::Shape> PartialShape::ToShape() const {
  if (!dims_.has_value()) return absl::FailedPreconditionError("shape has unknown rank");
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < dims_->size(); ++i) {
    if (!(*dims_)[i].known()) {
      return absl::FailedPreconditionError(
          StrCat("shape ", ToString(), ": dim ", i, " is unknown"));
    }
    sizes.push_back((*dims_)[i].size);
  }
  return tensor::Shape::Make(std::move(sizes));
}

std::string PartialShape::ToString() const {
  if (!dims_.has_value()) return "[*]";
  std::string out = "[";
  for (size_t i = 0; i < dims_->size(); ++i) {
    if (i > 0) out += ", ";
    const Dim& d = (*dims_)[i];
    out += d.known() ? std::to_string(d.size) : (d.param.empty() ? "?" : d.param);
  }
  return out + "]";
}

// ---- Node ------------------------------------------------------------------------------

ValueId Node::input(int i) const {
  return i >= 0 && i < num_inputs() ? inputs_[static_cast<size_t>(i)] : kNoValue;
}

ValueId Node::output(int i) const {
  return i >= 0 && i < num_outputs() ? outputs_[static_cast<size_t>(i)] : kNoValue;
}

std::string Node::Describe() const {
  if (name_.empty()) return StrCat("node #", id_.index, " (", op_type_, ")");
  return StrCat("node '", name_, "' (", op_type_, ")");
}

const Attribute* Node::FindAttribute(std::string_view name) const {
  for (const Attribute& a : attributes_) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

void Node::SetAttribute(Attribute attr) {
  for (Attribute& a : attributes_) {
    if (a.name() == attr.name()) {
      a = std::move(attr);
      return;
    }
  }
  attributes_.push_back(std::move(attr));
}

bool Node::RemoveAttribute(std::string_view name) {
  auto it = std::find_if(attributes_.begin(), attributes_.end(),
                         [name](const Attribute& a) { return a.name() == name; });
  if (it == attributes_.end()) return false;
  attributes_.erase(it);
  return true;
}

absl::StatusOr<const Attribute*> Node::Lookup(std::string_view name, AttrType type) const {
  const Attribute* a = FindAttribute(name);
  if (a != nullptr && a->type() != type) {
    return absl::InvalidArgumentError(StrCat(Describe(), ": attribute '", name, "' is ",
                                             AttrTypeName(a->type()), ", expected ",
                                             AttrTypeName(type)));
  }
  return a;
}

namespace {

absl::Status Missing(const Node& node, std::string_view name, AttrType type) {
  return absl::InvalidArgumentError(StrCat(node.Describe(), ": required ", AttrTypeName(type),
                                           " attribute '", name, "' is missing"));
}

}  // namespace

// The getters share one shape: look up with the type, then default or error if absent.
#define MP_IR_GETTER(Ret, Name, kType, accessor)                         \
  absl::StatusOr<Ret> Node::Name(std::string_view name) const {          \
    ASSIGN_OR_RETURN(const Attribute* a, Lookup(name, AttrType::kType)); \
    if (a == nullptr) return Missing(*this, name, AttrType::kType);      \
    return a->accessor();                                                \
  }
MP_IR_GETTER(int64_t, GetInt, kInt, i)
MP_IR_GETTER(float, GetFloat, kFloat, f)
MP_IR_GETTER(std::string, GetString, kString, s)
MP_IR_GETTER(tensor::Tensor, GetTensor, kTensor, t)
MP_IR_GETTER(std::vector<int64_t>, GetInts, kInts, ints)
MP_IR_GETTER(std::vector<float>, GetFloats, kFloats, floats)
MP_IR_GETTER(std::vector<std::string>, GetStrings, kStrings, strings)
#undef MP_IR_GETTER

#define MP_IR_GETTER_DEFAULT(Ret, Name, Param, kType, accessor)                      \
  absl::StatusOr<Ret> Node::Name(std::string_view name, Param default_value) const { \
    ASSIGN_OR_RETURN(const Attribute* a, Lookup(name, AttrType::kType));             \
    if (a == nullptr) return Ret(std::move(default_value));                          \
    return a->accessor();                                                            \
  }
MP_IR_GETTER_DEFAULT(int64_t, GetInt, int64_t, kInt, i)
MP_IR_GETTER_DEFAULT(float, GetFloat, float, kFloat, f)
MP_IR_GETTER_DEFAULT(std::string, GetString, std::string_view, kString, s)
MP_IR_GETTER_DEFAULT(std::vector<int64_t>, GetInts, std::vector<int64_t>, kInts, ints)
MP_IR_GETTER_DEFAULT(std::vector<float>, GetFloats, std::vector<float>, kFloats, floats)
#undef MP_IR_GETTER_DEFAULT

// ---- Model -----------------------------------------------------------------------------

std::optional<int64_t> Model::OpsetVersion(std::string_view opset_domain) const {
  auto norm = [](std::string_view d) { return d == "ai.onnx" ? std::string_view() : d; };
  for (const OpsetImport& o : opset_imports) {
    if (norm(o.domain) == norm(opset_domain)) return o.version;
  }
  return std::nullopt;
}

}  // namespace mp::ir
