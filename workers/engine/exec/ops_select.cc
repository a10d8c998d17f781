// Where(cond, x, y) and Equal(a, b) with ONNX multidirectional broadcasting.
//   Where: out = cond ? x : y, any dtype for x/y (same), cond bool.
//   Equal: out = (a == b) as bool, for bool, int8, uint8, int32, int64, float32, float64.
#include <array>
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"

namespace mp::exec {
namespace {

// Broadcast iteration: calls fn(out_index, in_offsets) for every output element in order,
// parallel over contiguous row ranges of the output.
template <size_t N, typename Fn>
void ForEachBroadcast(const Shape& out, const std::array<std::vector<int64_t>, N>& strides,
                      kernels::ThreadPool* pool, Fn&& fn) {
  const int rank = out.rank();
  const int64_t inner = rank == 0 ? 1 : out.dim(rank - 1);
  if (out.num_elements() == 0) return;
  const int64_t rows = out.num_elements() / inner;
  pool->ParallelFor(rows, std::max<int64_t>(1, 8192 / inner), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      std::array<int64_t, N> base{};
      int64_t rem = row;
      for (int d = rank - 2; d >= 0; --d) {
        const int64_t i = rem % out.dim(d);
        rem /= out.dim(d);
        for (size_t k = 0; k < N; ++k) base[k] += i * strides[k][static_cast<size_t>(d)];
      }
      std::array<int64_t, N> step{};
      for (size_t k = 0; k < N; ++k) {
        step[k] = rank == 0 ? 0 : strides[k][static_cast<size_t>(rank - 1)];
      }
      for (int64_t j = 0; j < inner; ++j) {
        std::array<int64_t, N> off;
        for (size_t k = 0; k < N; ++k) off[k] = base[k] + j * step[k];
        fn(row * inner + j, off);
      }
    }
  });
}

class WhereKernel : public OpKernel {
 public:
  explicit WhereKernel(std::array<std::vector<int64_t>, 3> strides)
      : strides_(std::move(strides)) {}
  absl::Status Run(RunContext& ctx) override {
    const bool* cond = ctx.inputs[0].data<bool>();
    const auto* x = static_cast<const uint8_t*>(ctx.inputs[1].raw_data());
    const auto* y = static_cast<const uint8_t*>(ctx.inputs[2].raw_data());
    Tensor& out = ctx.outputs[0];
    const size_t esize = tensor::DTypeSize(out.dtype());
    auto* dst = static_cast<uint8_t*>(out.mutable_raw_data());
    ForEachBroadcast<3>(
        out.shape(), strides_, ctx.pool, [&](int64_t i, const std::array<int64_t, 3>& off) {
          const uint8_t* src = cond[off[0]] ? x + off[1] * esize : y + off[2] * esize;
          std::memcpy(dst + i * esize, src, esize);
        });
    return absl::OkStatus();
  }

 private:
  std::array<std::vector<int64_t>, 3> strides_;
};

absl::StatusOr<PreparedOp> PrepareWhere(const PrepareContext& ctx) {
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kBool}));
  if (ctx.input(1).dtype != ctx.input(2).dtype) {
    return InvalidInput(ctx, 2,
                        StrCat("has dtype ", tensor::DTypeName(ctx.input(2).dtype), ", expected ",
                               tensor::DTypeName(ctx.input(1).dtype)));
  }
  std::vector<Shape> shapes = {ctx.input(0).shape, ctx.input(1).shape, ctx.input(2).shape};
  ASSIGN_OR_RETURN(Shape out, BroadcastShapes(ctx.node, shapes));
  ASSIGN_OR_RETURN(out, MakeOutputShape(ctx, 0, ctx.input(1).dtype, out.dims()));
  std::array<std::vector<int64_t>, 3> strides;
  for (size_t k = 0; k < 3; ++k) strides[k] = BroadcastStrides(shapes[k], out);
  return internal::SingleOutput(ctx, ctx.input(1).dtype, out,
                                std::make_unique<WhereKernel>(std::move(strides)));
}

template <typename T>
class EqualKernel : public OpKernel {
 public:
  explicit EqualKernel(std::array<std::vector<int64_t>, 2> strides)
      : strides_(std::move(strides)) {}
  absl::Status Run(RunContext& ctx) override {
    const T* a = ctx.inputs[0].data<T>();
    const T* b = ctx.inputs[1].data<T>();
    bool* dst = ctx.outputs[0].mutable_data<bool>();
    ForEachBroadcast<2>(
        ctx.outputs[0].shape(), strides_, ctx.pool,
        [&](int64_t i, const std::array<int64_t, 2>& off) { dst[i] = a[off[0]] == b[off[1]]; });
    return absl::OkStatus();
  }

 private:
  std::array<std::vector<int64_t>, 2> strides_;
};

absl::StatusOr<PreparedOp> PrepareEqual(const PrepareContext& ctx) {
  const DType dtype = ctx.input(0).dtype;
  if (ctx.input(1).dtype != dtype) {
    return InvalidInput(ctx, 1,
                        StrCat("has dtype ", tensor::DTypeName(ctx.input(1).dtype), ", expected ",
                               tensor::DTypeName(dtype)));
  }
  std::vector<Shape> shapes = {ctx.input(0).shape, ctx.input(1).shape};
  ASSIGN_OR_RETURN(Shape out, BroadcastShapes(ctx.node, shapes));
  ASSIGN_OR_RETURN(out, MakeOutputShape(ctx, 0, DType::kBool, out.dims()));
  std::array<std::vector<int64_t>, 2> strides = {BroadcastStrides(shapes[0], out),
                                                 BroadcastStrides(shapes[1], out)};
  std::unique_ptr<OpKernel> kernel;
  switch (dtype) {
    case DType::kBool:
      kernel = std::make_unique<EqualKernel<bool>>(strides);
      break;
    case DType::kInt8:
      kernel = std::make_unique<EqualKernel<int8_t>>(strides);
      break;
    case DType::kUint8:
      kernel = std::make_unique<EqualKernel<uint8_t>>(strides);
      break;
    case DType::kInt32:
      kernel = std::make_unique<EqualKernel<int32_t>>(strides);
      break;
    case DType::kInt64:
      kernel = std::make_unique<EqualKernel<int64_t>>(strides);
      break;
    case DType::kFloat32:
      kernel = std::make_unique<EqualKernel<float>>(strides);
      break;
    case DType::kFloat64:
      kernel = std::make_unique<EqualKernel<double>>(strides);
      break;
    default:
      return UnsupportedDType(ctx, 0);
  }
  return internal::SingleOutput(ctx, DType::kBool, out, std::move(kernel));
}

}  // namespace

void RegisterSelectOps(OpRegistry* registry) {
  registry->Register({.op_type = "Where",
                      .min_opset = 9,
                      .min_inputs = 3,
                      .max_inputs = 3,
                      .prepare = &PrepareWhere});
  registry->Register({.op_type = "Equal",
                      .min_opset = 7,
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .prepare = &PrepareEqual});
}

}  // namespace mp::exec
