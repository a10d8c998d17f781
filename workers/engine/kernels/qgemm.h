// Integer GEMM with exact int32 accumulation (the core of MatMulInteger, QLinearMatMul,
// ConvInteger, QLinearConv and of the fused QDQ integer path; DESIGN.md §5):
//
//   C[m*ldc + n] = sum_k (A[m,k] - a_zero) * (op(B)[k,n] - b_zero[n])        (int32)
//
//   A is M x K row-major (A[m*lda + k]), uint8 or int8. op(B) is K x N: B[k*ldb + n], or with
//   trans_b B[n*ldb + k]; uint8 or int8. b_zero is one value or one per column.
//   The result is exact whenever the true sum fits in int32, which always holds for
//   K <= 33025 (|each product| <= 255*255); beyond that it wraps modulo 2^32, as ONNX
//   Runtime does. No intermediate ever saturates.
//
// How. Every type combination is mapped to uint8 x int8 by flipping the top bit:
// a_u = a + 128 for int8 A (a_zero + 128), b_s = b - 128 for uint8 B (b_zero - 128); the
// differences (a - a_zero), (b - b_zero) are unchanged. Then
//   sum_k (a_u - za)(b_s - zb) = sum_k a_u*b_s - zb*rowsum(a_u) - za*colsum(b_s) + K*za*zb,
// evaluated in wrapping uint32 arithmetic (exact when the true value fits in int32).
// The products sum_k a_u*b_s run on Highway: on AVX3_DL (AVX-512 VNNI; qgemm.cc defines
// HWY_WANT_AVX3_DL, since Highway 1.0.3 compiles that target only on request) with vpdpbusd
// (exact: 4 products of at most 255*128 each, added into int32 without saturation; the
// saturating form is vpdpbusds, not used); on every other target the bytes are widened to
// int16 and multiplied with the int16 pair-sum (vpmaddwd: two products of at most 32640,
// no saturation). AVX2's saturating vpmaddubsw is never used.
//
// B is packed once (PackedQB: panels of 16 columns x K rounded up to 4, with column sums);
// the packed layout is the same for every target. With a pool the work splits over
// independent output tiles, so results are identical for any thread count (and, being
// exact, on every target).
#ifndef MP_WORKERS_ENGINE_KERNELS_QGEMM_H_
#define MP_WORKERS_ENGINE_KERNELS_QGEMM_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "workers/engine/kernels/parallel.h"
#include "workers/engine/kernels/quantize.h"

namespace mp::kernels {

// op(B) (K x N) converted to int8 (b_s) in 16-column panels. Immutable; thread-safe.
class PackedQB {
 public:
  static constexpr int64_t kPanel = 16;  // columns per panel
  // b_zero: `per_column` ? n values : one value (all in range of `type`).
  static std::unique_ptr<PackedQB> Pack(bool trans_b, int64_t k, int64_t n, const void* b,
                                        QType type, int64_t ldb, const int32_t* b_zero,
                                        bool per_column);
  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  int64_t k4() const { return (k_ + 3) / 4; }
  int64_t panels() const { return (n_ + kPanel - 1) / kPanel; }
  // Panel p: k4() groups of kPanel columns x 4 bytes: data[((p*k4 + g)*kPanel + j)*4 + r] =
  // b_s[4g + r][p*kPanel + j] (0 beyond K or N).
  const int8_t* panel(int64_t p) const { return data_.data() + p * k4() * kPanel * 4; }
  const int32_t* col_sums() const { return col_sums_.data(); }  // sum_k b_s, padded
  const int32_t* zero_points() const { return zeros_.data(); }  // b_zero in b_s terms, padded

 private:
  PackedQB(int64_t k, int64_t n) : k_(k), n_(n) {}
  int64_t k_, n_;
  std::vector<int8_t> data_;
  std::vector<int32_t> col_sums_, zeros_;
};

// C = (A - a_zero) * (op(B) - b_zero) with B pre-packed; see the file comment.
void QGemm(int64_t m, const void* a, QType a_type, int64_t lda, int32_t a_zero, const PackedQB& b,
           int32_t* c, int64_t ldc, ThreadPool* pool = nullptr);

// A already in QGemm's packed layout, for callers that build it directly (qconv.cc's
// im2col): a_u bytes (a + 128 for int8 A), 4 consecutive k of one row per little-endian
// uint32 word (byte t = k 4g+t), laid out [block][k4][mr] with mr = QGemmRowBlock(): word
// a_pack[(i/mr * k4 + g) * mr + i%mr] holds row i, group g; bytes beyond K (and rows beyond m
// up to the block) are 0. row_sums[i] = sum_k a_u of row i. Same result as QGemm on the
// unpacked A. mr must be QGemmRowBlock() of the same dispatched target.
int64_t QGemmRowBlock();
void QGemmPackedA(int64_t m, const uint32_t* a_pack, const uint32_t* row_sums, int64_t mr,
                  QType a_type, int32_t a_zero, const PackedQB& b, int32_t* c, int64_t ldc);

// Same with B unpacked (packs it on every call).
void QGemm(bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, QType a_type, int64_t lda,
           int32_t a_zero, const void* b, QType b_type, int64_t ldb, const int32_t* b_zero,
           bool b_zero_per_column, int32_t* c, int64_t ldc, ThreadPool* pool = nullptr);

// The scalar definition (int64 accumulation, then truncated to int32 modulo 2^32).
void QGemmReference(bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, QType a_type,
                    int64_t lda, int32_t a_zero, const void* b, QType b_type, int64_t ldb,
                    const int32_t* b_zero, bool b_zero_per_column, int32_t* c, int64_t ldc);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_QGEMM_H_
