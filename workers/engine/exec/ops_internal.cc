#include "workers/engine/exec/ops_internal.h"

#include <algorithm>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::exec::internal {

void ParallelCopy(const void* src, void* dst, int64_t bytes, kernels::ThreadPool* pool) {
  if (bytes <= 0 || src == dst) return;
  constexpr int64_t kChunk = int64_t{1} << 16;
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  if (pool == nullptr || bytes < 2 * kChunk) {
    std::memcpy(d, s, static_cast<size_t>(bytes));
    return;
  }
  const int64_t chunks = (bytes + kChunk - 1) / kChunk;
  pool->ParallelFor(chunks, 1, [&](int64_t begin, int64_t end) {
    const int64_t lo = begin * kChunk;
    const int64_t hi = std::min(bytes, end * kChunk);
    std::memcpy(d + lo, s + lo, static_cast<size_t>(hi - lo));
  });
}

absl::Status CopyKernel::Run(RunContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  Tensor& out = ctx.outputs[0];
  ParallelCopy(in.raw_data(), out.mutable_raw_data(), static_cast<int64_t>(out.byte_size()),
               ctx.pool);
  return absl::OkStatus();
}

PreparedOp SingleOutput(const PrepareContext& ctx, DType dtype, Shape shape,
                        std::unique_ptr<OpKernel> kernel) {
  PreparedOp op;
  op.outputs.resize(static_cast<size_t>(std::max(ctx.num_outputs(), 1)));
  op.outputs[0].dtype = dtype;
  op.outputs[0].shape = std::move(shape);
  op.kernel = std::move(kernel);
  return op;
}

PreparedOp CopyOp(const PrepareContext& ctx, DType dtype, Shape shape) {
  return SingleOutput(ctx, dtype, std::move(shape), std::make_unique<CopyKernel>());
}

}  // namespace mp::exec::internal

namespace mp::exec::internal {
namespace {

template <typename T>
void CopyRow(const uint8_t* src, int64_t stride, int64_t n, uint8_t* dst) {
  const T* s = reinterpret_cast<const T*>(src);
  T* d = reinterpret_cast<T*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = s[i * stride];
}

}  // namespace

void StridedCopy(const void* src, int64_t offset, std::span<const int64_t> src_strides,
                 const Shape& out_shape, size_t elem_size, void* dst, kernels::ThreadPool* pool) {
  const int64_t total = out_shape.num_elements();
  if (total == 0) return;
  const int rank = out_shape.rank();
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const int64_t esize = static_cast<int64_t>(elem_size);
  if (rank == 0) {
    std::memcpy(d, s + offset * esize, elem_size);
    return;
  }
  const int64_t inner = out_shape.dim(rank - 1);
  const int64_t inner_stride = src_strides[static_cast<size_t>(rank - 1)];
  const int64_t rows = total / inner;
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      // Decompose the row index over dims [0, rank-1).
      int64_t rem = row, src_off = offset;
      for (int dim = rank - 2; dim >= 0; --dim) {
        const int64_t size = out_shape.dim(dim);
        src_off += (rem % size) * src_strides[static_cast<size_t>(dim)];
        rem /= size;
      }
      const uint8_t* from = s + src_off * esize;
      uint8_t* to = d + row * inner * esize;
      if (inner_stride == 1) {
        std::memcpy(to, from, static_cast<size_t>(inner * esize));
        continue;
      }
      switch (elem_size) {
        case 1:
          CopyRow<uint8_t>(from, inner_stride, inner, to);
          break;
        case 2:
          CopyRow<uint16_t>(from, inner_stride, inner, to);
          break;
        case 4:
          CopyRow<uint32_t>(from, inner_stride, inner, to);
          break;
        case 8:
          CopyRow<uint64_t>(from, inner_stride, inner, to);
          break;
        default:
          for (int64_t i = 0; i < inner; ++i) {
            std::memcpy(to + i * esize, from + i * inner_stride * esize, elem_size);
          }
      }
    }
  };
  const int64_t min_rows = std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1));
  if (pool == nullptr) {
    run(0, rows);
  } else {
    pool->ParallelFor(rows, min_rows, run);
  }
}

absl::StatusOr<MatMulShape> GetMatMulShape(const PrepareContext& ctx, int a, int b) {
  std::vector<int64_t> ad = ctx.input(a).shape.dims();
  std::vector<int64_t> bd = ctx.input(b).shape.dims();
  const bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), 1);
  if (b_vec) bd.push_back(1);
  MatMulShape s;
  s.m = ad[ad.size() - 2];
  s.k = ad[ad.size() - 1];
  s.n = bd[bd.size() - 1];
  if (bd[bd.size() - 2] != s.k) {
    return InvalidInput(
        ctx, b,
        StrCat("shape ", ctx.input(b).shape.ToString(), " has K = ", bd[bd.size() - 2],
               ", but input ", a, " ", ctx.input(a).shape.ToString(), " has K = ", s.k));
  }
  const Shape a_batch(std::vector<int64_t>(ad.begin(), ad.end() - 2));
  const Shape b_batch(std::vector<int64_t>(bd.begin(), bd.end() - 2));
  const Shape batches[2] = {a_batch, b_batch};
  ASSIGN_OR_RETURN(s.batch, BroadcastShapes(ctx.node, batches));
  s.a_strides = BroadcastStrides(a_batch, s.batch);
  s.b_strides = BroadcastStrides(b_batch, s.batch);
  s.fold = b_batch.num_elements() == 1;
  s.out = s.batch.dims();
  if (!a_vec) s.out.push_back(s.m);
  if (!b_vec) s.out.push_back(s.n);
  return s;
}

}  // namespace mp::exec::internal
