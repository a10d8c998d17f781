#include "workers/engine/train/init.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/data/shuffle.h"

namespace mp::train {
namespace {

using ir::Graph;
using ir::Node;
using ir::ValueId;
using tensor::DType;
using tensor::Tensor;

// What an initializer becomes: U(-bound, bound), or the constant `fill`.
struct Role {
  bool uniform = false;
  double bound = 0;
  float fill = 0;
  std::string node;  // the node that assigned it (for conflict messages)
  friend bool operator==(const Role& a, const Role& b) {
    return a.uniform == b.uniform && a.bound == b.bound && a.fill == b.fill;
  }
};

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// A float32 initializer in `id`, or nullptr.
const Tensor* FloatConstant(const Graph& g, ValueId id) {
  if (!id.valid() || !g.contains(id)) return nullptr;
  const Tensor& t = g.value(id).initializer();
  return t.defined() && t.dtype() == DType::kFloat32 ? &t : nullptr;
}

class Assigner {
 public:
  explicit Assigner(const Graph& g) : g_(g), roles_(static_cast<size_t>(g.num_values())) {}

  absl::Status Assign(ValueId id, Role role) {
    std::optional<Role>& slot = roles_[static_cast<size_t>(id.index)];
    if (slot.has_value() && !(*slot == role)) {
      return absl::InvalidArgumentError(StrCat("initializer '", g_.value(id).name(),
                                               "': conflicting roles from ", slot->node, " and ",
                                               role.node));
    }
    if (!slot.has_value()) slot = std::move(role);
    return absl::OkStatus();
  }
  const std::optional<Role>& role(size_t i) const { return roles_[i]; }

 private:
  const Graph& g_;
  std::vector<std::optional<Role>> roles_;
};

Role Uniform(int64_t fan_in, const Node& node) {
  return {.uniform = true,
          .bound = 1.0 / std::sqrt(double(std::max<int64_t>(fan_in, 1))),
          .node = node.Describe()};
}

absl::Status NeedRank(const Node& node, const Tensor& w, int min_rank) {
  if (w.rank() >= min_rank) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat(node.Describe(), ": weight ", w.DebugString(), " has fewer than ", min_rank, " dims"));
}

// Assigns the roles of one node's constant inputs.
absl::Status AssignNode(const Graph& g, const Node& node, Assigner& a) {
  const std::string& op = node.op_type();
  if (!node.domain().empty()) return absl::OkStatus();
  if (op == "Conv" || op == "Gemm") {
    const Tensor* w = FloatConstant(g, node.input(1));
    if (w == nullptr) return absl::OkStatus();
    RETURN_IF_ERROR(NeedRank(node, *w, 2));
    int64_t fan_in = 1;
    if (op == "Conv") {
      for (int i = 1; i < w->rank(); ++i) fan_in *= w->shape().dim(i);
    } else {
      ASSIGN_OR_RETURN(int64_t trans_b, node.GetInt("transB", 0));
      fan_in = w->shape().dim(trans_b != 0 ? 1 : 0);
    }
    RETURN_IF_ERROR(a.Assign(node.input(1), Uniform(fan_in, node)));
    if (FloatConstant(g, node.input(2)) != nullptr) {
      RETURN_IF_ERROR(a.Assign(node.input(2), Uniform(fan_in, node)));
    }
    return absl::OkStatus();
  }
  if (op == "MatMul") {
    const Tensor* w = FloatConstant(g, node.input(1));
    if (w == nullptr || FloatConstant(g, node.input(0)) != nullptr) return absl::OkStatus();
    RETURN_IF_ERROR(NeedRank(node, *w, 1));
    const int64_t fan_in = w->shape().dim(w->rank() >= 2 ? w->rank() - 2 : 0);
    RETURN_IF_ERROR(a.Assign(node.input(1), Uniform(fan_in, node)));
    // MatMul -> Add(constant): the bias of a Linear exported as two nodes.
    for (const ir::Use& use : g.value(node.output(0)).uses()) {
      const Node& add = g.node(use.node);
      if (add.op_type() != "Add" || !add.domain().empty() || add.num_inputs() != 2) continue;
      const ValueId other = add.input(1 - use.input_index);
      if (FloatConstant(g, other) != nullptr) {
        RETURN_IF_ERROR(a.Assign(other, Uniform(fan_in, add)));
      }
    }
    return absl::OkStatus();
  }
  if (op == "BatchNormalization") {
    const float fills[] = {1.0f, 0.0f, 0.0f, 1.0f};
    for (int i = 1; i <= 4; ++i) {
      if (FloatConstant(g, node.input(i)) == nullptr) continue;
      RETURN_IF_ERROR(a.Assign(node.input(i), {.fill = fills[i - 1], .node = node.Describe()}));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> InitializeParameters(ir::Model& model, uint64_t seed) {
  Graph& g = model.graph;
  Assigner assigner(g);
  for (const Node& node : g.nodes()) RETURN_IF_ERROR(AssignNode(g, node, assigner));
  std::vector<std::string> names;
  for (int i = 0; i < g.num_values(); ++i) {
    const std::optional<Role>& role = assigner.role(static_cast<size_t>(i));
    if (!role.has_value()) continue;
    const ValueId id{i};
    const std::string& name = g.value(id).name();
    Tensor fresh = Tensor::Zeros(DType::kFloat32, g.value(id).initializer().shape());
    float* out = fresh.mutable_data<float>();
    const int64_t n = fresh.num_elements();
    if (role->uniform) {
      data::SplitMix64 rng(data::DeriveSeed(seed, Fnv1a64(name)));
      const double lo = -role->bound, span = 2.0 * role->bound;
      for (int64_t k = 0; k < n; ++k) {
        const double u = double(rng.Next() >> 40) * 0x1.0p-24;
        out[k] = static_cast<float>(lo + span * u);
      }
    } else {
      std::fill(out, out + n, role->fill);
    }
    g.SetConstant(id, std::move(fresh));
    names.push_back(name);
  }
  return names;
}

}  // namespace mp::train
