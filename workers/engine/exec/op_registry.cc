#include "workers/engine/exec/op_registry.h"

#include <string>

#include "common/check.h"
#include "common/str_cat.h"

namespace mp::exec {
namespace {

std::string QualifiedName(std::string_view domain, std::string_view op_type) {
  if (domain.empty() || domain == "ai.onnx") return std::string(op_type);
  return StrCat(domain, ".", op_type);
}

bool SameDomain(std::string_view a, std::string_view b) {
  auto norm = [](std::string_view d) { return d == "ai.onnx" ? std::string_view() : d; };
  return norm(a) == norm(b);
}

OpRegistry* BuildDefault() {
  auto* registry = new OpRegistry();
  // ==== Family registration calls: one line per ops_<family>.cc (see op_registry.h) ====
  RegisterShapeOps(registry);
  RegisterTransformOps(registry);
  RegisterGeneratorOps(registry);
  RegisterSliceOps(registry);
  RegisterCastOps(registry);
  RegisterSelectOps(registry);
  RegisterPadOps(registry);
  // ---- compute families (the "ops" helper adds its lines below) ----
  RegisterBinaryOps(registry);
  RegisterUnaryOps(registry);
  RegisterGemmOps(registry);
  RegisterConvOps(registry);
  RegisterPoolOps(registry);
  RegisterNormOps(registry);
  RegisterSoftmaxOps(registry);
  RegisterReduceOps(registry);
  RegisterQuantOps(registry);
  // ==== end of family calls ============================================================
  return registry;
}

}  // namespace

void OpRegistry::Register(const OpSchema& schema) {
  MP_CHECK(!schema.op_type.empty());
  MP_CHECK(schema.prepare != nullptr) << schema.op_type;
  MP_CHECK(schema.min_inputs >= 0 && schema.min_inputs <= schema.max_inputs) << schema.op_type;
  MP_CHECK(schema.min_outputs >= 0 && schema.min_outputs <= schema.max_outputs) << schema.op_type;
  MP_CHECK(schema.min_opset >= 1 && schema.min_opset <= schema.max_opset) << schema.op_type;
  for (const OpSchema& s : schemas_) {
    if (s.op_type != schema.op_type || !SameDomain(s.domain, schema.domain)) continue;
    MP_CHECK(schema.max_opset < s.min_opset || schema.min_opset > s.max_opset)
        << "overlapping opset ranges for " << schema.op_type;
  }
  schemas_.push_back(schema);
}

const OpSchema* OpRegistry::Find(std::string_view domain, std::string_view op_type,
                                 int64_t opset) const {
  for (const OpSchema& s : schemas_) {
    if (s.op_type == op_type && SameDomain(s.domain, domain) && opset >= s.min_opset &&
        opset <= s.max_opset) {
      return &s;
    }
  }
  return nullptr;
}

bool OpRegistry::Knows(std::string_view domain, std::string_view op_type) const {
  for (const OpSchema& s : schemas_) {
    if (s.op_type == op_type && SameDomain(s.domain, domain)) return true;
  }
  return false;
}

absl::StatusOr<const OpSchema*> OpRegistry::Lookup(const ir::Node& node, int64_t opset) const {
  const std::string name = QualifiedName(node.domain(), node.op_type());
  const OpSchema* schema = Find(node.domain(), node.op_type(), opset);
  if (schema == nullptr) {
    if (!Knows(node.domain(), node.op_type())) {
      return Unimplemented(node, StrCat("op ", name, " is not supported"));
    }
    std::string ranges;
    for (const OpSchema& s : schemas_) {
      if (s.op_type != node.op_type() || !SameDomain(s.domain, node.domain())) continue;
      if (!ranges.empty()) ranges += ", ";
      ranges += StrCat(s.min_opset, "..");
      if (s.max_opset < (1 << 20)) ranges += StrCat(s.max_opset);
    }
    return Unimplemented(node, StrCat("op ", name, " is not supported at opset ", opset,
                                      " (supported: ", ranges, ")"));
  }
  if (node.num_inputs() < schema->min_inputs || node.num_inputs() > schema->max_inputs) {
    return InvalidNode(node, StrCat("has ", node.num_inputs(), " inputs, expected ",
                                    schema->min_inputs, "..", schema->max_inputs));
  }
  if (node.num_outputs() < schema->min_outputs || node.num_outputs() > schema->max_outputs) {
    return InvalidNode(node, StrCat("has ", node.num_outputs(), " outputs, expected ",
                                    schema->min_outputs, "..", schema->max_outputs));
  }
  for (int i = 0; i < schema->min_inputs; ++i) {
    if (!node.input(i).valid()) {
      return InvalidNode(node, StrCat("required input ", i, " is omitted"));
    }
  }
  return schema;
}

const OpRegistry& OpRegistry::Default() {
  static const OpRegistry* registry = BuildDefault();
  return *registry;
}

}  // namespace mp::exec
