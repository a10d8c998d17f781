#include "workers/engine/exec/batch_split.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "common/status.h"

namespace mp::exec::internal {
namespace {

// What a value is, as far as slicing the batch goes.
enum class Kind {
  kConstant,  // an initializer or a value folded from initializers
  kBatched,   // computed from the feeds, batch on axis 0, images apart
  kSized,     // folded at plan time from a batched value's shape (Shape, Size, ...)
};

absl::Status Refuse(const ir::Node& node, std::string_view why) {
  return absl::FailedPreconditionError(StrCat(node.Describe(), ": ", why));
}

int64_t Normalize(int64_t axis, int rank) { return axis < 0 ? axis + rank : axis; }

// One node under check: its inputs' kinds and the unfused plan's shapes.
class NodeCheck {
 public:
  NodeCheck(const ir::Node& node, const Plan& plan, const std::vector<Kind>& kinds)
      : node_(node), plan_(plan), kinds_(kinds) {}

  bool present(int i) const { return i < node_.num_inputs() && node_.input(i).valid(); }
  bool batched(int i) const { return present(i) && kind(node_.input(i)) == Kind::kBatched; }
  Kind kind(ir::ValueId id) const { return kinds_[static_cast<size_t>(id.index)]; }
  const Shape& shape(int i) const { return slot(node_.input(i)).shape; }
  const Shape& out_shape() const { return slot(node_.output(0)).shape; }
  int64_t elements(int i) const { return shape(i).num_elements(); }

  // Only input `i` may be batched; every other present input is constant.
  absl::Status OnlyBatched(int i) const {
    for (int k = 0; k < node_.num_inputs(); ++k) {
      if (k != i && present(k) && kind(node_.input(k)) != Kind::kConstant) {
        return Refuse(node_, StrCat("input ", k, " is computed from the batch"));
      }
    }
    if (!batched(i)) return Refuse(node_, StrCat("input ", i, " is not the batched input"));
    return absl::OkStatus();
  }

  // Every batched input is shaped like the output's leading axis and every constant one
  // broadcasts without touching axis 0 (lower rank, or leading dim 1).
  absl::Status Broadcasts() const {
    const int rank = out_shape().rank();
    for (int i = 0; i < node_.num_inputs(); ++i) {
      if (!present(i)) continue;
      const Shape& s = shape(i);
      if (batched(i) ? s.rank() == rank : (s.rank() < rank || (s.rank() > 0 && s.dim(0) == 1))) {
        continue;
      }
      return Refuse(node_, StrCat("input ", i, " ", s.ToString(), " broadcasts over the batch"));
    }
    return absl::OkStatus();
  }

  // An integer attribute, or a constant int input when the attribute is absent.
  std::optional<std::vector<int64_t>> Ints(std::string_view attr, int input) const {
    if (node_.HasAttribute(attr)) {
      absl::StatusOr<std::vector<int64_t>> v = node_.GetInts(attr);
      if (v.ok()) return *v;
      return std::nullopt;
    }
    if (!present(input) || kind(node_.input(input)) != Kind::kConstant) return std::nullopt;
    const Tensor& t = slot(node_.input(input)).constant;
    std::vector<int64_t> out;
    if (t.dtype() == DType::kInt64) {
      out.assign(t.data<int64_t>(), t.data<int64_t>() + t.num_elements());
    } else if (t.dtype() == DType::kInt32) {
      out.assign(t.data<int32_t>(), t.data<int32_t>() + t.num_elements());
    } else {
      return std::nullopt;
    }
    return out;
  }

  int64_t Int(std::string_view attr, int64_t fallback) const {
    absl::StatusOr<int64_t> v = node_.GetInt(attr, fallback);
    return v.ok() ? *v : fallback;
  }

  // `axes` (normalised against `rank`) must be given and leave axis 0 alone.
  absl::Status AxesSpareBatch(const std::optional<std::vector<int64_t>>& axes, int rank) const {
    if (!axes.has_value() || axes->empty()) {
      return Refuse(node_, "its axes are not given as constants, so they may include the batch");
    }
    for (int64_t a : *axes) {
      if (Normalize(a, rank) == 0) return Refuse(node_, "works across the batch (axis 0)");
    }
    return absl::OkStatus();
  }

  absl::Status AxisSpareBatch(int64_t axis, int rank) const {
    if (Normalize(axis, rank) == 0) return Refuse(node_, "works across the batch (axis 0)");
    return absl::OkStatus();
  }

  // MatMul-style product of inputs `a` and `b`: the batch is A's rows (rank 2) or a
  // broadcast batch axis (rank >= 3) that no constant operand spans.
  absl::Status MatMulKeepsBatch(int a, int b) const {
    const int rank = out_shape().rank();
    for (int x : {a, b}) {
      const Shape& s = shape(x);
      if (batched(x)) {
        if (s.rank() != rank || rank < 2 || (rank == 2 && x != a)) {
          return Refuse(node_, StrCat("input ", x, " ", s.ToString(), " does not keep the batch"));
        }
      } else if (rank >= 3 && s.rank() == rank && s.dim(0) != 1) {
        return Refuse(node_, StrCat("input ", x, " ", s.ToString(), " spans the batch"));
      }
    }
    for (int i = 0; i < node_.num_inputs(); ++i) {
      if (i != a && i != b && present(i) && kind(node_.input(i)) != Kind::kConstant) {
        return Refuse(node_, StrCat("input ", i, " is computed from the batch"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status PerTensorOrAxis(int scale_input, int rank) const {
    if (present(scale_input) && elements(scale_input) > 1) {
      return AxisSpareBatch(Int("axis", 1), rank);
    }
    return absl::OkStatus();
  }

  absl::Status Check() const;

 private:
  const ValueSlot& slot(ir::ValueId id) const {
    return plan_.values[static_cast<size_t>(id.index)];
  }

  const ir::Node& node_;
  const Plan& plan_;
  const std::vector<Kind>& kinds_;
};

const absl::flat_hash_set<std::string_view>& Pointwise() {
  static const auto* set = new absl::flat_hash_set<std::string_view>{"Abs",
                                                                     "Add",
                                                                     "And",
                                                                     "Cast",
                                                                     "CastLike",
                                                                     "Ceil",
                                                                     "Clip",
                                                                     "Div",
                                                                     "Dropout",
                                                                     "Elu",
                                                                     "Equal",
                                                                     "Erf",
                                                                     "Exp",
                                                                     "Floor",
                                                                     "Gelu",
                                                                     "Greater",
                                                                     "GreaterOrEqual",
                                                                     "HardSigmoid",
                                                                     "HardSwish",
                                                                     "Identity",
                                                                     "LeakyRelu",
                                                                     "Less",
                                                                     "LessOrEqual",
                                                                     "Log",
                                                                     "Max",
                                                                     "Mean",
                                                                     "Min",
                                                                     "Mul",
                                                                     "Neg",
                                                                     "Not",
                                                                     "Or",
                                                                     "PRelu",
                                                                     "Pow",
                                                                     "Reciprocal",
                                                                     "Relu",
                                                                     "Round",
                                                                     "Selu",
                                                                     "Sigmoid",
                                                                     "Sign",
                                                                     "Softplus",
                                                                     "Sqrt",
                                                                     "Sub",
                                                                     "Sum",
                                                                     "Tanh",
                                                                     "Where",
                                                                     "Xor"};
  return *set;
}

// Ops that see one image at a time through input 0 (the rest are constants).
const absl::flat_hash_set<std::string_view>& PerImage() {
  static const auto* set = new absl::flat_hash_set<std::string_view>{"AveragePool",
                                                                     "BatchNormalization",
                                                                     "Conv",
                                                                     "ConvInteger",
                                                                     "ConvTranspose",
                                                                     "DepthToSpace",
                                                                     "GlobalAveragePool",
                                                                     "GlobalMaxPool",
                                                                     "InstanceNormalization",
                                                                     "LpPool",
                                                                     "LRN",
                                                                     "MaxPool",
                                                                     "QLinearConv",
                                                                     "SpaceToDepth"};
  return *set;
}

// Ops whose batched input 0 meets only constants and whose axis (or axes) must spare the
// batch: the attribute; its default, or for lists the input holding the axes when the
// attribute is absent; whether the axes count against the output's rank.
struct AxisRule {
  std::string_view op, attr;
  int64_t fallback;
  bool list, output_rank;
};
constexpr AxisRule kAxisRules[] = {
    {"LayerNormalization", "axis", -1, false, false},
    {"Softmax", "axis", -1, false, false},  // the stricter of the defaults (1 / -1)
    {"LogSoftmax", "axis", -1, false, false},
    {"Flatten", "axis", 1, false, false},
    {"Split", "axis", 0, false, false},
    {"ReduceMean", "axes", 1, true, false},
    {"ReduceSum", "axes", 1, true, false},
    {"ReduceMax", "axes", 1, true, false},
    {"ReduceMin", "axes", 1, true, false},
    {"Slice", "axes", 3, true, false},
    {"Squeeze", "axes", 1, true, false},
    {"Unsqueeze", "axes", 1, true, true},
};

absl::Status NodeCheck::Check() const {
  const std::string& op = node_.op_type();
  if (!node_.output(0).valid() || !present(0)) return Refuse(node_, "has no input or output 0");
  const int rank = out_shape().rank();
  const int in_rank = shape(0).rank();
  if (Pointwise().contains(op)) return Broadcasts();
  if (op == "QuantizeLinear" || op == "DequantizeLinear") {
    RETURN_IF_ERROR(OnlyBatched(0));
    return PerTensorOrAxis(1, in_rank);
  }
  if (PerImage().contains(op)) {
    for (int j = 1; j < node_.num_outputs(); ++j) {  // MaxPool's Indices count across images
      if (node_.output(j).valid()) return Refuse(node_, StrCat("output ", j, " is used"));
    }
    return OnlyBatched(0);
  }
  if (op == "Gemm" || op == "QLinearGemm") {
    RETURN_IF_ERROR(OnlyBatched(0));
    if (Int("transA", 0) != 0) return Refuse(node_, "transA puts the batch on A's columns");
    const int c = op == "Gemm" ? 2 : 6;
    if (present(c) && shape(c).rank() == 2 && shape(c).dim(0) != 1) {
      return Refuse(node_, "C has one row per batch row");
    }
    return absl::OkStatus();
  }
  if (op == "MatMul") return MatMulKeepsBatch(0, 1);
  if (op == "MatMulInteger" || op == "QLinearMatMul") {
    // A's scale and zero point (QLinearMatMul 1, 2; MatMulInteger 2) may be per row.
    for (int i : op == "MatMulInteger" ? std::vector<int>{2} : std::vector<int>{1, 2}) {
      if (present(i) && elements(i) > 1) return Refuse(node_, "A is quantized per row");
    }
    return MatMulKeepsBatch(0, op == "MatMulInteger" ? 1 : 3);
  }
  for (const AxisRule& r : kAxisRules) {
    if (op != r.op) continue;
    RETURN_IF_ERROR(OnlyBatched(0));
    const int against = r.output_rank ? rank : in_rank;
    return r.list ? AxesSpareBatch(Ints(r.attr, r.fallback), against)
                  : AxisSpareBatch(Int(r.attr, r.fallback), against);
  }
  if (op == "Reshape") {
    if (!batched(0) || batched(1)) return Refuse(node_, "reshapes by a computed shape");
    return absl::OkStatus();  // the output's leading dim is checked by the caller
  }
  if (op == "Transpose") {
    RETURN_IF_ERROR(OnlyBatched(0));
    const std::optional<std::vector<int64_t>> perm = Ints("perm", -1);
    if (!perm.has_value() || perm->empty() || (*perm)[0] != 0) {
      return Refuse(node_, "moves the batch axis");
    }
    return absl::OkStatus();
  }
  if (op == "Concat") {
    for (int i = 0; i < node_.num_inputs(); ++i) {
      if (!batched(i)) return Refuse(node_, StrCat("input ", i, " is not computed per image"));
    }
    return AxisSpareBatch(Int("axis", 0), rank);
  }
  if (op == "Pad") {
    RETURN_IF_ERROR(OnlyBatched(0));
    if (present(3)) return Refuse(node_, "pads by axes");
    const std::optional<std::vector<int64_t>> pads = Ints("pads", 1);
    if (!pads.has_value() || static_cast<int>(pads->size()) != 2 * in_rank || (*pads)[0] != 0 ||
        (*pads)[static_cast<size_t>(in_rank)] != 0) {
      return Refuse(node_, "pads the batch axis");
    }
    return absl::OkStatus();
  }
  if (op == "Gather") {
    const int64_t axis = Int("axis", 0);
    if (batched(0) && !batched(1) && kind(node_.input(1)) == Kind::kConstant) {
      return AxisSpareBatch(axis, in_rank);
    }
    if (batched(1) && kind(node_.input(0)) == Kind::kConstant && Normalize(axis, in_rank) == 0) {
      return absl::OkStatus();  // a lookup table indexed per image
    }
    return Refuse(node_, "gathers across the batch");
  }
  return Refuse(node_, StrCat("op ", op, " is not known to keep images apart"));
}

}  // namespace

absl::StatusOr<std::vector<bool>> BatchedValues(const ir::Graph& graph, const Plan& unfused,
                                                std::span<const ir::ValueId> feeds, int64_t batch) {
  std::vector<Kind> kinds(static_cast<size_t>(graph.num_values()), Kind::kConstant);
  auto slot = [&](ir::ValueId id) -> const ValueSlot& {
    return unfused.values[static_cast<size_t>(id.index)];
  };
  for (ir::ValueId id : feeds) {
    const ValueSlot& s = slot(id);
    if (s.storage != Storage::kFeed || s.shape.rank() < 1 || s.shape.dim(0) != batch) {
      return absl::FailedPreconditionError(
          StrCat("input '", graph.value(id).name(), "' does not have the batch on axis 0"));
    }
    kinds[static_cast<size_t>(id.index)] = Kind::kBatched;
  }
  for (const ir::Node& node : graph.nodes()) {
    bool any_batched = false, any_sized = false, folded = true, computed = false;
    for (ir::ValueId id : node.inputs()) {
      if (!id.valid()) continue;
      any_batched = any_batched || kinds[static_cast<size_t>(id.index)] == Kind::kBatched;
      any_sized = any_sized || kinds[static_cast<size_t>(id.index)] == Kind::kSized;
    }
    for (ir::ValueId id : node.outputs()) {
      if (!id.valid() || slot(id).storage == Storage::kNone) continue;
      computed = true;
      folded = folded && slot(id).storage == Storage::kConstant;
    }
    if ((!any_batched && !any_sized) || !computed) continue;
    if (folded) {  // e.g. Shape(x): known per plan, so right for every slice's plan
      for (ir::ValueId id : node.outputs()) {
        if (id.valid()) kinds[static_cast<size_t>(id.index)] = Kind::kSized;
      }
      continue;
    }
    if (any_sized) {
      const bool shape_only = node.op_type() == "Reshape" && node.num_inputs() >= 2 &&
                              kinds[static_cast<size_t>(node.input(1).index)] == Kind::kSized &&
                              kinds[static_cast<size_t>(node.input(0).index)] == Kind::kBatched;
      if (!shape_only) return Refuse(node, "uses a value computed from the batch size");
    }
    if (!any_batched) return Refuse(node, "is computed from the batch size alone");
    RETURN_IF_ERROR(NodeCheck(node, unfused, kinds).Check());
    for (ir::ValueId id : node.outputs()) {
      if (!id.valid() || slot(id).storage == Storage::kNone) continue;
      const Shape& s = slot(id).shape;
      if (s.rank() < 1 || s.dim(0) != batch) {
        return Refuse(node, StrCat("output ", s.ToString(), " does not keep the batch on axis 0"));
      }
      kinds[static_cast<size_t>(id.index)] = Kind::kBatched;
    }
  }
  for (ir::ValueId id : graph.outputs()) {
    if (kinds[static_cast<size_t>(id.index)] != Kind::kBatched ||
        slot(id).storage != Storage::kOutput) {
      return absl::FailedPreconditionError(
          StrCat("output '", graph.value(id).name(), "' is not computed per image"));
    }
  }
  std::vector<bool> batched(kinds.size());
  for (size_t v = 0; v < kinds.size(); ++v) batched[v] = kinds[v] == Kind::kBatched;
  return batched;
}

int64_t SliceRows(const Plan& unfused, const std::vector<bool>& batched, int64_t batch) {
  int64_t per_image = 1, rows_for_weights = 1;
  for (const Step& step : unfused.steps) {
    int64_t activations = 0, constants = 0;
    for (const std::vector<ir::ValueId>* ids : {&step.inputs, &step.outputs}) {
      for (ir::ValueId id : *ids) {
        if (!id.valid()) continue;
        const ValueSlot& s = unfused.values[static_cast<size_t>(id.index)];
        const int64_t bytes = s.shape.num_elements() * static_cast<int64_t>(DTypeSize(s.dtype));
        if (batched[static_cast<size_t>(id.index)]) {
          activations += bytes;
        } else if (s.storage == Storage::kConstant) {
          constants += bytes;
        }
      }
    }
    const int64_t image = std::max<int64_t>(activations / batch, 1);
    per_image = std::max(per_image, image);
    rows_for_weights = std::max(rows_for_weights, (4 * constants + image - 1) / image);
  }
  return std::clamp(std::max(kSplitStepBytes / per_image, rows_for_weights), int64_t{1}, batch);
}

std::vector<int64_t> SliceSizes(int64_t batch, int64_t rows) {
  int64_t slices = (batch + rows - 1) / rows;
  if (slices > 1)
    slices = std::min(batch, (slices + kSliceMultiple - 1) / kSliceMultiple * kSliceMultiple);
  std::vector<int64_t> sizes;
  for (int64_t k = 0; k < slices; ++k) sizes.push_back(batch / slices + (k < batch % slices));
  return sizes;
}

absl::Status CheckSlicePlan(const ir::Graph& graph, const Plan& full, const Plan& slice,
                            const std::vector<bool>& batched, int64_t rows) {
  if (full.steps.size() != slice.steps.size()) {
    return absl::FailedPreconditionError(
        StrCat("a slice runs ", slice.steps.size(), " steps, the whole batch ", full.steps.size()));
  }
  for (size_t k = 0; k < full.steps.size(); ++k) {
    if (full.steps[k].node != slice.steps[k].node || full.steps[k].label != slice.steps[k].label) {
      return absl::FailedPreconditionError(
          StrCat(graph.node(full.steps[k].node).Describe(), ": runs differently for a slice"));
    }
  }
  for (size_t v = 0; v < full.values.size(); ++v) {
    const ValueSlot& f = full.values[v];
    const ValueSlot& s = slice.values[v];
    const std::string& name = graph.value(ir::ValueId{static_cast<int32_t>(v)}).name();
    if (f.storage != s.storage || f.dtype != s.dtype) {
      return absl::FailedPreconditionError(StrCat("value '", name, "' is stored differently"));
    }
    if (f.storage == Storage::kNone || f.storage == Storage::kConstant) continue;
    std::vector<int64_t> want = f.shape.dims();
    if (batched[v]) want[0] = rows;
    if (s.shape.dims() != want) {
      return absl::FailedPreconditionError(StrCat("value '", name, "' is ", s.shape.ToString(),
                                                  " for a slice of ", rows, " rows, not ",
                                                  Shape(want).ToString()));
    }
  }
  return absl::OkStatus();
}

}  // namespace mp::exec::internal
