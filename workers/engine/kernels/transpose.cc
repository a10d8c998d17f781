// N-D transpose: see transpose.h. Plain C++: the work is address arithmetic and copies; the
// tiled 2-D loops keep both sides in cache and compile to wide moves on their own.
#include "workers/engine/kernels/transpose.h"

#include <algorithm>
#include <cstring>

namespace mp::kernels {
namespace {

constexpr int64_t kTile = 32;

// The transpose after merging and dropping size-1 axes: output axis d has extent shape[d],
// input stride in_stride[d] and (dense) output stride out_stride[d], all in elements.
struct Plan {
  int rank = 0;
  int64_t shape[kMaxTransposeRank];
  int64_t in_stride[kMaxTransposeRank];
  int64_t out_stride[kMaxTransposeRank];
};

Plan MakePlan(int rank, const int64_t* in_shape, const int* perm) {
  int64_t dense[kMaxTransposeRank];
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    dense[d] = s;
    s *= in_shape[d];
  }
  Plan p;
  for (int d = 0; d < rank; ++d) {
    const int64_t extent = in_shape[perm[d]];
    const int64_t stride = dense[perm[d]];
    if (extent == 1) continue;
    if (p.rank > 0 && p.in_stride[p.rank - 1] == stride * extent) {
      p.shape[p.rank - 1] *= extent;
      p.in_stride[p.rank - 1] = stride;
      continue;
    }
    p.shape[p.rank] = extent;
    p.in_stride[p.rank] = stride;
    ++p.rank;
  }
  s = 1;
  for (int d = p.rank - 1; d >= 0; --d) {
    p.out_stride[d] = s;
    s *= p.shape[d];
  }
  return p;
}

// Offsets of item `index` over the axes listed in `axes` (row-major order among them).
void Offsets(const Plan& p, const int* axes, int count, int64_t index, int64_t* in_off,
             int64_t* out_off) {
  *in_off = 0;
  *out_off = 0;
  for (int i = count - 1; i >= 0; --i) {
    const int a = axes[i];
    const int64_t id = index % p.shape[a];
    index /= p.shape[a];
    *in_off += id * p.in_stride[a];
    *out_off += id * p.out_stride[a];
  }
}

template <typename T>
void Block(const T* in, T* out, int64_t rows, int64_t cols, int64_t in_row_stride,
           int64_t in_col_stride, int64_t out_row_stride) {
  for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
    const int64_t c1 = std::min(cols, c0 + kTile);
    for (int64_t r = 0; r < rows; ++r) {
      const T* src = in + r * in_row_stride;
      T* dst = out + r * out_row_stride;
      for (int64_t c = c0; c < c1; ++c) dst[c] = src[c * in_col_stride];
    }
  }
}

void BlockBytes(size_t elem, const char* in, char* out, int64_t rows, int64_t cols,
                int64_t in_row_stride, int64_t in_col_stride, int64_t out_row_stride) {
  switch (elem) {
    case 1:
      return Block(reinterpret_cast<const uint8_t*>(in), reinterpret_cast<uint8_t*>(out), rows,
                   cols, in_row_stride, in_col_stride, out_row_stride);
    case 2:
      return Block(reinterpret_cast<const uint16_t*>(in), reinterpret_cast<uint16_t*>(out), rows,
                   cols, in_row_stride, in_col_stride, out_row_stride);
    case 4:
      return Block(reinterpret_cast<const uint32_t*>(in), reinterpret_cast<uint32_t*>(out), rows,
                   cols, in_row_stride, in_col_stride, out_row_stride);
    case 8:
      return Block(reinterpret_cast<const uint64_t*>(in), reinterpret_cast<uint64_t*>(out), rows,
                   cols, in_row_stride, in_col_stride, out_row_stride);
    default:
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          std::memcpy(out + (r * out_row_stride + c) * elem,
                      in + (r * in_row_stride + c * in_col_stride) * elem, elem);
        }
      }
  }
}

template <typename Fn>
void Split(ThreadPool* pool, int64_t items, int64_t elems_per_item, const Fn& fn) {
  const int64_t min_items = std::max<int64_t>(1, 16384 / std::max<int64_t>(elems_per_item, 1));
  if (pool == nullptr || pool->num_threads() <= 1 || items < 2 * min_items) {
    fn(0, items);
  } else {
    pool->ParallelFor(items, min_items, fn);
  }
}

}  // namespace

void Transpose(int rank, const int64_t* in_shape, const int* perm, size_t elem_size, const void* in,
               void* out, ThreadPool* pool) {
  for (int d = 0; d < rank; ++d) {
    if (in_shape[d] == 0) return;
  }
  const Plan p = MakePlan(rank, in_shape, perm);
  const char* src = static_cast<const char*>(in);
  char* dst = static_cast<char*>(out);
  if (p.rank == 0) {
    std::memcpy(dst, src, elem_size);
    return;
  }
  const int last = p.rank - 1;
  if (p.in_stride[last] == 1) {  // runs of p.shape[last] contiguous elements
    int axes[kMaxTransposeRank];
    for (int d = 0; d < last; ++d) axes[d] = d;
    int64_t runs = 1;
    for (int d = 0; d < last; ++d) runs *= p.shape[d];
    const size_t bytes = static_cast<size_t>(p.shape[last]) * elem_size;
    Split(pool, runs, p.shape[last], [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t io, oo;
        Offsets(p, axes, last, r, &io, &oo);
        std::memcpy(dst + oo * elem_size, src + io * elem_size, bytes);
      }
    });
    return;
  }
  // 2-D blocks: rows along axis k (smallest input stride), columns along the last axis.
  int k = 0;
  for (int d = 1; d < last; ++d) {
    if (p.in_stride[d] < p.in_stride[k]) k = d;
  }
  int axes[kMaxTransposeRank];
  int count = 0;
  int64_t outer = 1;
  for (int d = 0; d < last; ++d) {
    if (d == k) continue;
    axes[count++] = d;
    outer *= p.shape[d];
  }
  const int64_t row_tiles = (p.shape[k] + kTile - 1) / kTile;
  Split(pool, outer * row_tiles, kTile * p.shape[last], [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      int64_t io, oo;
      Offsets(p, axes, count, item / row_tiles, &io, &oo);
      const int64_t r0 = (item % row_tiles) * kTile;
      const int64_t rows = std::min(kTile, p.shape[k] - r0);
      io += r0 * p.in_stride[k];
      oo += r0 * p.out_stride[k];
      BlockBytes(elem_size, src + io * static_cast<int64_t>(elem_size),
                 dst + oo * static_cast<int64_t>(elem_size), rows, p.shape[last], p.in_stride[k],
                 p.in_stride[last], p.out_stride[k]);
    }
  });
}

void TransposeReference(int rank, const int64_t* in_shape, const int* perm, size_t elem_size,
                        const void* in, void* out) {
  int64_t in_stride[kMaxTransposeRank], out_shape[kMaxTransposeRank];
  int64_t total = 1;
  for (int d = rank - 1; d >= 0; --d) {
    in_stride[d] = total;
    total *= in_shape[d];
  }
  for (int d = 0; d < rank; ++d) out_shape[d] = in_shape[perm[d]];
  for (int64_t i = 0; i < total; ++i) {
    int64_t rem = i, off = 0;
    for (int d = rank - 1; d >= 0; --d) {
      off += (rem % out_shape[d]) * in_stride[perm[d]];
      rem /= out_shape[d];
    }
    std::memcpy(static_cast<char*>(out) + i * elem_size,
                static_cast<const char*>(in) + off * elem_size, elem_size);
  }
}

}  // namespace mp::kernels
