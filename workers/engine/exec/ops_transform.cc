// Data-movement operators: Transpose, Concat, Split, Slice, Gather, Expand. All are
// byte-level copies over any fixed-size dtype, so they support every DType the engine has.
#include <algorithm>
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"

namespace mp::exec {
namespace {

using internal::SingleOutput;
using internal::StridedCopy;

// Output 0 = strided view of input 0 (offset and strides in elements).
class StridedKernel : public OpKernel {
 public:
  StridedKernel(int64_t offset, std::vector<int64_t> strides)
      : offset_(offset), strides_(std::move(strides)) {}
  absl::Status Run(RunContext& ctx) override {
    const Tensor& in = ctx.inputs[0];
    Tensor& out = ctx.outputs[0];
    StridedCopy(in.raw_data(), offset_, strides_, out.shape(), tensor::DTypeSize(in.dtype()),
                out.mutable_raw_data(), ctx.pool);
    return absl::OkStatus();
  }

 private:
  int64_t offset_;
  std::vector<int64_t> strides_;
};

absl::StatusOr<PreparedOp> PrepareTranspose(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const int rank = in.rank();
  std::vector<int64_t> perm;
  for (int d = rank - 1; d >= 0; --d) perm.push_back(d);
  ASSIGN_OR_RETURN(perm, ctx.node.GetInts("perm", perm));
  if (static_cast<int>(perm.size()) != rank) {
    return InvalidNode(ctx.node, StrCat("attribute 'perm' has ", perm.size(),
                                        " entries but the input has rank ", rank));
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  const std::vector<int64_t> in_strides = RowMajorStrides(in);
  std::vector<int64_t> dims, strides;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[static_cast<size_t>(p)]) {
      return InvalidNode(ctx.node, "attribute 'perm' is not a permutation of the input axes");
    }
    seen[static_cast<size_t>(p)] = true;
    dims.push_back(in.dim(static_cast<int>(p)));
    strides.push_back(in_strides[static_cast<size_t>(p)]);
  }
  return SingleOutput(ctx, ctx.input(0).dtype, Shape(std::move(dims)),
                      std::make_unique<StridedKernel>(0, std::move(strides)));
}

// Concat: out[outer, sum of axis blocks, inner]; each input contributes a contiguous block
// of dim_i * inner elements per outer index.
class ConcatKernel : public OpKernel {
 public:
  ConcatKernel(int64_t outer, std::vector<int64_t> block_bytes)
      : outer_(outer), block_bytes_(std::move(block_bytes)) {}
  absl::Status Run(RunContext& ctx) override {
    int64_t row_bytes = 0;
    for (int64_t b : block_bytes_) row_bytes += b;
    auto* out = static_cast<uint8_t*>(ctx.outputs[0].mutable_raw_data());
    ctx.pool->ParallelFor(outer_, std::max<int64_t>(1, 65536 / std::max<int64_t>(row_bytes, 1)),
                          [&](int64_t begin, int64_t end) {
                            for (int64_t o = begin; o < end; ++o) {
                              uint8_t* dst = out + o * row_bytes;
                              for (size_t i = 0; i < block_bytes_.size(); ++i) {
                                const int64_t b = block_bytes_[i];
                                if (b == 0) continue;
                                const auto* src =
                                    static_cast<const uint8_t*>(ctx.inputs[i].raw_data());
                                std::memcpy(dst, src + o * b, static_cast<size_t>(b));
                                dst += b;
                              }
                            }
                          });
    return absl::OkStatus();
  }

 private:
  int64_t outer_;
  std::vector<int64_t> block_bytes_;
};

absl::StatusOr<PreparedOp> PrepareConcat(const PrepareContext& ctx) {
  const Shape& first = ctx.input(0).shape;
  const DType dtype = ctx.input(0).dtype;
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.GetInt("axis"));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx.node, axis_attr, first.rank(), "attribute 'axis'"));
  std::vector<int64_t> dims = first.dims();
  dims[static_cast<size_t>(axis)] = 0;
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return InvalidInput(ctx, i, "is required");
    const InputInfo& in = ctx.input(i);
    if (in.dtype != dtype) {
      return InvalidInput(ctx, i,
                          StrCat("has dtype ", tensor::DTypeName(in.dtype), ", expected ",
                                 tensor::DTypeName(dtype)));
    }
    if (in.shape.rank() != first.rank()) {
      return InvalidInput(
          ctx, i, StrCat("has shape ", in.shape.ToString(), ", expected rank ", first.rank()));
    }
    for (int d = 0; d < first.rank(); ++d) {
      if (d != axis && in.shape.dim(d) != first.dim(d)) {
        return InvalidInput(ctx, i,
                            StrCat("has shape ", in.shape.ToString(), ", incompatible with ",
                                   first.ToString(), " outside axis ", axis));
      }
    }
    dims[static_cast<size_t>(axis)] += in.shape.dim(axis);
  }
  ASSIGN_OR_RETURN(Shape out, MakeOutputShape(ctx, 0, dtype, dims));
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < out.rank(); ++d) {
    if (d < axis) outer *= out.dim(d);
    if (d > axis) inner *= out.dim(d);
  }
  std::vector<int64_t> blocks;
  const int64_t esize = static_cast<int64_t>(tensor::DTypeSize(dtype));
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    blocks.push_back(ctx.input(i).shape.dim(axis) * inner * esize);
  }
  return SingleOutput(ctx, dtype, std::move(out),
                      std::make_unique<ConcatKernel>(outer, std::move(blocks)));
}

// Split: the inverse of Concat; output j takes block j of every outer row.
class SplitKernel : public OpKernel {
 public:
  SplitKernel(int64_t outer, std::vector<int64_t> block_bytes)
      : outer_(outer), block_bytes_(std::move(block_bytes)) {}
  absl::Status Run(RunContext& ctx) override {
    int64_t row_bytes = 0;
    for (int64_t b : block_bytes_) row_bytes += b;
    const auto* in = static_cast<const uint8_t*>(ctx.inputs[0].raw_data());
    ctx.pool->ParallelFor(outer_, std::max<int64_t>(1, 65536 / std::max<int64_t>(row_bytes, 1)),
                          [&](int64_t begin, int64_t end) {
                            for (int64_t o = begin; o < end; ++o) {
                              const uint8_t* src = in + o * row_bytes;
                              for (size_t j = 0; j < block_bytes_.size(); ++j) {
                                const int64_t b = block_bytes_[j];
                                if (b > 0 && ctx.outputs[j].defined()) {
                                  auto* dst =
                                      static_cast<uint8_t*>(ctx.outputs[j].mutable_raw_data());
                                  std::memcpy(dst + o * b, src, static_cast<size_t>(b));
                                }
                                src += b;
                              }
                            }
                          });
    return absl::OkStatus();
  }

 private:
  int64_t outer_;
  std::vector<int64_t> block_bytes_;
};

absl::StatusOr<PreparedOp> PrepareSplit(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const DType dtype = ctx.input(0).dtype;
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.GetInt("axis", 0));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx.node, axis_attr, in.rank(), "attribute 'axis'"));
  const int64_t dim = in.dim(axis);
  const int n = ctx.num_outputs();
  std::vector<int64_t> sizes;
  if (ctx.opset >= 13) {
    if (ctx.has_input(1)) {
      ASSIGN_OR_RETURN(sizes, ConstantInts(ctx, 1));
    }
  } else {
    ASSIGN_OR_RETURN(sizes, ctx.node.GetInts("split", {}));
  }
  if (ctx.opset >= 18 && ctx.node.HasAttribute("num_outputs")) {
    ASSIGN_OR_RETURN(int64_t num, ctx.node.GetInt("num_outputs"));
    if (!sizes.empty()) {
      return InvalidNode(ctx.node, "attribute 'num_outputs' and input 'split' are exclusive");
    }
    if (num != n) {
      return InvalidNode(ctx.node, StrCat("attribute 'num_outputs' is ", num, " but the node has ",
                                          n, " outputs"));
    }
  }
  if (sizes.empty()) {
    // Equal parts; opset 18 allows the last to be smaller (ceil division).
    const int64_t part = (dim + n - 1) / n;
    if (dim % n != 0 && ctx.opset < 18) {
      return InvalidInput(
          ctx, 0,
          StrCat("dim ", axis, " of size ", dim, " does not split evenly into ", n, " outputs"));
    }
    for (int j = 0; j < n; ++j) sizes.push_back(std::clamp<int64_t>(dim - j * part, 0, part));
  }
  if (static_cast<int>(sizes.size()) != n) {
    return InvalidNode(
        ctx.node, StrCat("split has ", sizes.size(), " entries but the node has ", n, " outputs"));
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) return InvalidNode(ctx.node, StrCat("split entry ", s, " is negative"));
    total += s;
  }
  if (total != dim) {
    return InvalidNode(ctx.node, StrCat("split sizes sum to ", total, " but dim ", axis, " of ",
                                        in.ToString(), " is ", dim));
  }
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < in.rank(); ++d) {
    if (d < axis) outer *= in.dim(d);
    if (d > axis) inner *= in.dim(d);
  }
  PreparedOp op;
  op.outputs.resize(static_cast<size_t>(n));
  std::vector<int64_t> blocks;
  const int64_t esize = static_cast<int64_t>(tensor::DTypeSize(dtype));
  for (int j = 0; j < n; ++j) {
    std::vector<int64_t> dims = in.dims();
    dims[static_cast<size_t>(axis)] = sizes[static_cast<size_t>(j)];
    op.outputs[static_cast<size_t>(j)].dtype = dtype;
    op.outputs[static_cast<size_t>(j)].shape = Shape(std::move(dims));
    blocks.push_back(sizes[static_cast<size_t>(j)] * inner * esize);
  }
  op.kernel = std::make_unique<SplitKernel>(outer, std::move(blocks));
  return op;
}

// Gather along `axis`: out[o, j..., i] = data[o, idx[j...], i], negative indices wrap.
class GatherKernel : public OpKernel {
 public:
  GatherKernel(std::string desc, int64_t outer, int64_t axis_dim, int64_t inner_bytes)
      : desc_(std::move(desc)), outer_(outer), axis_dim_(axis_dim), inner_bytes_(inner_bytes) {}
  absl::Status Run(RunContext& ctx) override {
    const Tensor& idx_t = ctx.inputs[1];
    const int64_t count = idx_t.num_elements();
    std::vector<int64_t> idx(static_cast<size_t>(count));
    for (int64_t j = 0; j < count; ++j) {
      int64_t v =
          idx_t.dtype() == DType::kInt64 ? idx_t.data<int64_t>()[j] : idx_t.data<int32_t>()[j];
      if (v < -axis_dim_ || v >= axis_dim_) {
        return absl::InvalidArgumentError(StrCat(desc_, ": input 1 (indices): index ", v,
                                                 " at position ", j,
                                                 " is out of range for axis dim ", axis_dim_));
      }
      idx[static_cast<size_t>(j)] = v < 0 ? v + axis_dim_ : v;
    }
    const auto* src = static_cast<const uint8_t*>(ctx.inputs[0].raw_data());
    auto* dst = static_cast<uint8_t*>(ctx.outputs[0].mutable_raw_data());
    const int64_t blocks = outer_ * count;
    ctx.pool->ParallelFor(
        blocks, std::max<int64_t>(1, 65536 / std::max<int64_t>(inner_bytes_, 1)),
        [&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b) {
            const int64_t o = b / count, j = b % count;
            std::memcpy(dst + b * inner_bytes_,
                        src + (o * axis_dim_ + idx[static_cast<size_t>(j)]) * inner_bytes_,
                        static_cast<size_t>(inner_bytes_));
          }
        });
    return absl::OkStatus();
  }

 private:
  std::string desc_;
  int64_t outer_, axis_dim_, inner_bytes_;
};

absl::StatusOr<PreparedOp> PrepareGather(const PrepareContext& ctx) {
  const Shape& data = ctx.input(0).shape;
  RETURN_IF_ERROR(RequireDType(ctx, 1, {DType::kInt64, DType::kInt32}));
  const Shape& indices = ctx.input(1).shape;
  if (data.rank() == 0) return InvalidInput(ctx, 0, "must have rank >= 1");
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.GetInt("axis", 0));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx.node, axis_attr, data.rank(), "attribute 'axis'"));
  std::vector<int64_t> dims(data.dims().begin(), data.dims().begin() + axis);
  dims.insert(dims.end(), indices.dims().begin(), indices.dims().end());
  dims.insert(dims.end(), data.dims().begin() + axis + 1, data.dims().end());
  const DType dtype = ctx.input(0).dtype;
  ASSIGN_OR_RETURN(Shape out, MakeOutputShape(ctx, 0, dtype, dims));
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < data.rank(); ++d) {
    if (d < axis) outer *= data.dim(d);
    if (d > axis) inner *= data.dim(d);
  }
  const int64_t inner_bytes = inner * static_cast<int64_t>(tensor::DTypeSize(dtype));
  return SingleOutput(
      ctx, dtype, std::move(out),
      std::make_unique<GatherKernel>(ctx.node.Describe(), outer, data.dim(axis), inner_bytes));
}

absl::StatusOr<PreparedOp> PrepareExpand(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  RETURN_IF_ERROR(RequireRank(ctx, 1, 1, 1));
  ASSIGN_OR_RETURN(std::vector<int64_t> target, ConstantInts(ctx, 1));
  for (int64_t d : target) {
    if (d < 0) return InvalidInput(ctx, 1, StrCat("has negative entry ", d));
  }
  if (static_cast<int>(target.size()) > Shape::kMaxRank) {
    return InvalidInput(ctx, 1,
                        StrCat("has ", target.size(), " entries, more than ", Shape::kMaxRank));
  }
  // Broadcast dims first without allocating: Shape::Make would reject huge products.
  const int rank = std::max(in.rank(), static_cast<int>(target.size()));
  std::vector<int64_t> dims(static_cast<size_t>(rank), 1);
  for (int k = 0; k < 2; ++k) {
    const std::vector<int64_t>& src = k == 0 ? in.dims() : target;
    const int offset = rank - static_cast<int>(src.size());
    for (size_t d = 0; d < src.size(); ++d) {
      int64_t& o = dims[static_cast<size_t>(offset) + d];
      if (src[d] == o || src[d] == 1) continue;
      if (o != 1) {
        return InvalidInput(ctx, 1, StrCat("shape cannot broadcast with data ", in.ToString()));
      }
      o = src[d];
    }
  }
  const DType dtype = ctx.input(0).dtype;
  ASSIGN_OR_RETURN(Shape out, MakeOutputShape(ctx, 0, dtype, dims));
  return SingleOutput(ctx, dtype, out,
                      std::make_unique<StridedKernel>(0, BroadcastStrides(in, out)));
}

}  // namespace

void RegisterTransformOps(OpRegistry* registry) {
  registry->Register(
      {.op_type = "Transpose", .min_inputs = 1, .max_inputs = 1, .prepare = &PrepareTranspose});
  registry->Register(
      {.op_type = "Concat", .min_inputs = 1, .max_inputs = 1 << 16, .prepare = &PrepareConcat});
  registry->Register({.op_type = "Split",
                      .max_opset = 12,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .min_outputs = 1,
                      .max_outputs = 1 << 16,
                      .prepare = &PrepareSplit});
  registry->Register({.op_type = "Split",
                      .min_opset = 13,
                      .min_inputs = 1,
                      .max_inputs = 2,
                      .min_outputs = 1,
                      .max_outputs = 1 << 16,
                      .prepare = &PrepareSplit});
  registry->Register(
      {.op_type = "Gather", .min_inputs = 2, .max_inputs = 2, .prepare = &PrepareGather});
  registry->Register({.op_type = "Expand",
                      .min_opset = 8,
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .prepare = &PrepareExpand});
}

}  // namespace mp::exec
