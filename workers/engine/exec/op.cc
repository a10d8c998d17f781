#include "workers/engine/exec/op.h"

#include <algorithm>
#include <limits>

#include "absl/strings/cord.h"
#include "common/str_cat.h"
#include "workers/engine/kernels/elementwise.h"

namespace mp::exec {
namespace {

std::string InputLabel(const PrepareContext& ctx, int input) {
  std::string_view name;
  if (input >= 0 && input < ctx.num_inputs()) name = ctx.input(input).name;
  if (name.empty() && input >= 0 && input < ctx.node.num_inputs() &&
      ctx.node.input(input).valid()) {
    return StrCat("input ", input);
  }
  return StrCat("input ", input, " ('", name, "')");
}

}  // namespace

absl::Status InvalidInput(const PrepareContext& ctx, int input, std::string_view what) {
  return absl::InvalidArgumentError(
      StrCat(ctx.node.Describe(), ": ", InputLabel(ctx, input), ": ", what));
}

absl::Status InvalidNode(const ir::Node& node, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(node.Describe(), ": ", what));
}

absl::Status Unimplemented(const ir::Node& node, std::string_view what) {
  return absl::UnimplementedError(StrCat(node.Describe(), ": ", what));
}

absl::Status UnsupportedDType(const PrepareContext& ctx, int input) {
  DType dtype = ctx.has_input(input) ? ctx.input(input).dtype : DType::kUndefined;
  return absl::UnimplementedError(StrCat(ctx.node.Describe(), ": ", InputLabel(ctx, input),
                                         ": dtype ", tensor::DTypeName(dtype),
                                         " is not supported"));
}

absl::Status RequireDType(const PrepareContext& ctx, int input,
                          std::initializer_list<DType> allowed) {
  if (!ctx.has_input(input)) return InvalidInput(ctx, input, "is required");
  DType dtype = ctx.input(input).dtype;
  if (std::find(allowed.begin(), allowed.end(), dtype) != allowed.end()) {
    return absl::OkStatus();
  }
  return UnsupportedDType(ctx, input);
}

absl::Status RequireRank(const PrepareContext& ctx, int input, int min_rank, int max_rank) {
  if (!ctx.has_input(input)) return InvalidInput(ctx, input, "is required");
  int rank = ctx.input(input).shape.rank();
  if (rank >= min_rank && rank <= max_rank) return absl::OkStatus();
  std::string expected = min_rank == max_rank ? StrCat(min_rank) : StrCat(min_rank, "..", max_rank);
  return InvalidInput(
      ctx, input,
      StrCat("has ", rank, " dims ", ctx.input(input).shape.ToString(), ", expected ", expected));
}

absl::StatusOr<Shape> MakeOutputShape(const PrepareContext& ctx, int output, DType dtype,
                                      std::vector<int64_t> dims) {
  if (static_cast<int>(dims.size()) > Shape::kMaxRank) {
    return InvalidNode(ctx.node, StrCat("output ", output, " would have rank ", dims.size(),
                                        ", more than ", Shape::kMaxRank));
  }
  // Checked product; overflow of the element count or byte size is RESOURCE_EXHAUSTED.
  int64_t count = 1;
  bool overflow = false;
  for (int64_t d : dims) {
    if (d < 0) {
      return InvalidNode(ctx.node, StrCat("output ", output, " would have negative dim ", d));
    }
  }
  for (int64_t d : dims) {
    if (d == 0) {
      count = 0;
      overflow = false;
      break;
    }
    if (count > std::numeric_limits<int64_t>::max() / d) overflow = true;
    if (!overflow) count *= d;
  }
  const int64_t elem = static_cast<int64_t>(tensor::DTypeSize(dtype));
  if (!overflow && elem > 0 && count > std::numeric_limits<int64_t>::max() / elem) {
    overflow = true;
  }
  if (overflow || count * std::max<int64_t>(elem, 1) > ctx.max_tensor_bytes) {
    return absl::ResourceExhaustedError(
        StrCat(ctx.node.Describe(), ": output ", output, " of ",
               overflow ? std::string("overflowing") : StrCat(count * elem),
               " bytes exceeds the limit of ", ctx.max_tensor_bytes, " bytes"));
  }
  return Shape::Make(std::move(dims));
}

absl::StatusOr<int> NormalizeAxis(const ir::Node& node, int64_t axis, int rank,
                                  std::string_view what) {
  if (axis < -static_cast<int64_t>(rank) || axis >= rank) {
    return InvalidNode(node, StrCat(what, " ", axis, " is out of range for rank ", rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

absl::StatusOr<Shape> BroadcastShapes(const ir::Node& node, std::span<const Shape> shapes) {
  int rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.rank());
  std::vector<int64_t> out(static_cast<size_t>(rank), 1);
  for (size_t k = 0; k < shapes.size(); ++k) {
    const Shape& s = shapes[k];
    const int offset = rank - s.rank();
    for (int d = 0; d < s.rank(); ++d) {
      int64_t& o = out[static_cast<size_t>(offset + d)];
      const int64_t v = s.dim(d);
      if (v == o || v == 1) continue;
      if (o == 1) {
        o = v;
        continue;
      }
      return InvalidNode(node, StrCat("cannot broadcast shapes: input ", k, " ", s.ToString(),
                                      " has dim ", v, " where another input has ", o));
    }
  }
  return Shape::Make(std::move(out));
}

std::vector<int64_t> RowMajorStrides(const Shape& shape) {
  std::vector<int64_t> strides(static_cast<size_t>(shape.rank()));
  int64_t s = 1;
  for (int d = shape.rank() - 1; d >= 0; --d) {
    strides[static_cast<size_t>(d)] = s;
    s *= shape.dim(d);
  }
  return strides;
}

std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(static_cast<size_t>(out.rank()), 0);
  kernels::BroadcastStrides(in.rank(), in.dims().data(), out.rank(), out.dims().data(),
                            strides.data());
  return strides;
}

constexpr char kNotKnownPayload[] = "mp.exec/not-known-at-plan-time";

absl::Status NotKnownAtPlanTime(const PrepareContext& ctx, int input) {
  absl::Status status = InvalidInput(ctx, input,
                                     "must be known at plan time (a constant or computed from "
                                     "shapes), but depends on input data");
  status.SetPayload(kNotKnownPayload, absl::Cord("1"));
  return status;
}

bool IsNotKnownAtPlanTime(const absl::Status& status) {
  return status.GetPayload(kNotKnownPayload).has_value();
}

absl::StatusOr<std::vector<int64_t>> ConstantInts(const PrepareContext& ctx, int input) {
  if (!ctx.has_input(input)) return InvalidInput(ctx, input, "is required");
  const InputInfo& info = ctx.input(input);
  if (!info.is_constant()) {
    return NotKnownAtPlanTime(ctx, input);
  }
  const Tensor& t = *info.value;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(t.num_elements()));
  if (t.dtype() == DType::kInt64) {
    for (int64_t v : t.span<int64_t>()) out.push_back(v);
  } else if (t.dtype() == DType::kInt32) {
    for (int32_t v : t.span<int32_t>()) out.push_back(v);
  } else {
    return InvalidInput(
        ctx, input,
        StrCat("has dtype ", tensor::DTypeName(t.dtype()), ", expected int64 or int32"));
  }
  return out;
}

}  // namespace mp::exec
