// Sgemm vs SgemmReference on every compiled and supported Highway target, plus packed vs
// unpacked equality and thread-count independence (bit-identical bytes).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "workers/engine/kernels/gemm.h"
#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {
namespace {

constexpr float kSentinel = -777.0f;  // fills the padding beyond each row (lda/ldc > cols)

struct Case {
  bool trans_a = false, trans_b = false;
  int64_t m = 1, n = 1, k = 1;
  float alpha = 1.0f, beta = 0.0f;
  int64_t pad = 0;  // extra elements per row of A, B and C
  std::string Name() const {
    return "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
           " ta=" + std::to_string(trans_a) + " tb=" + std::to_string(trans_b) +
           " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta) +
           " pad=" + std::to_string(pad);
  }
};

// Operands of one case, stored with the row lengths the transposes imply.
struct Operands {
  explicit Operands(const Case& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    lda = (c.trans_a ? c.m : c.k) + c.pad;
    ldb = (c.trans_b ? c.k : c.n) + c.pad;
    ldc = c.n + c.pad;
    a.assign(static_cast<size_t>((c.trans_a ? c.k : c.m) * lda), kSentinel);
    b.assign(static_cast<size_t>((c.trans_b ? c.n : c.k) * ldb), kSentinel);
    c0.assign(static_cast<size_t>(c.m * ldc), kSentinel);
    Fill(&a, lda - c.pad, lda, &rng, &dist);
    Fill(&b, ldb - c.pad, ldb, &rng, &dist);
    Fill(&c0, c.n, ldc, &rng, &dist);
    // beta == 0 means C is write-only: poison it so any read shows up as NaN.
    if (c.beta == 0.0f) {
      for (int64_t i = 0; i < c.m; ++i) {
        for (int64_t j = 0; j < c.n; ++j) c0[i * ldc + j] = std::numeric_limits<float>::quiet_NaN();
      }
    }
  }
  static void Fill(std::vector<float>* v, int64_t cols, int64_t ld, std::mt19937* rng,
                   std::uniform_real_distribution<float>* dist) {
    for (size_t i = 0; i < v->size(); ++i) {
      if (static_cast<int64_t>(i) % ld < cols) (*v)[i] = (*dist)(*rng);
    }
  }
  int64_t lda, ldb, ldc;
  std::vector<float> a, b, c0;
};

std::vector<float> RunSgemm(const Case& c, const Operands& o, ThreadPool* pool) {
  std::vector<float> out = o.c0;
  Sgemm(c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, o.a.data(), o.lda, o.b.data(), o.ldb, c.beta,
        out.data(), o.ldc, pool);
  return out;
}

std::vector<float> RunPacked(const Case& c, const Operands& o, ThreadPool* pool) {
  std::vector<float> out = o.c0;
  std::unique_ptr<PackedB> packed = PackedB::Pack(c.trans_b, c.k, c.n, o.b.data(), o.ldb);
  EXPECT_EQ(packed->k(), c.k);
  EXPECT_EQ(packed->n(), c.n);
  SgemmPacked(c.trans_a, c.m, c.alpha, o.a.data(), o.lda, *packed, c.beta, out.data(), o.ldc, pool);
  return out;
}

// SgemmReference's result and, per element, the error bound Sgemm must meet:
// |got - ref| <= (2k + 8) * eps * (|alpha| * sum_p |a_ip * b_pj| + |beta * c_ij|).
struct Expected {
  Expected(const Case& c, const Operands& o) : ref(o.c0), tol(o.c0.size(), 0.0) {
    SgemmReference(c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, o.a.data(), o.lda, o.b.data(),
                   o.ldb, c.beta, ref.data(), o.ldc);
    std::vector<float> abs_a = o.a, abs_b = o.b;
    for (float& v : abs_a) v = std::fabs(v);
    for (float& v : abs_b) v = std::fabs(v);
    std::vector<float> mag(o.c0.size(), 0.0f);
    SgemmReference(c.trans_a, c.trans_b, c.m, c.n, c.k, 1.0f, abs_a.data(), o.lda, abs_b.data(),
                   o.ldb, 0.0f, mag.data(), o.ldc);
    const double eps = std::numeric_limits<float>::epsilon();
    for (size_t i = 0; i < tol.size(); ++i) {
      const double beta_c = c.beta == 0.0f ? 0.0 : std::fabs(double{c.beta} * o.c0[i]);
      tol[i] = (2.0 * c.k + 8.0) * eps * (std::fabs(double{c.alpha}) * mag[i] + beta_c) + 1e-30;
    }
  }
  std::vector<float> ref;
  std::vector<double> tol;
};

// Checks `got` against the reference; the padding beyond column n must be untouched.
void ExpectNear(const Case& c, const Operands& o, const Expected& e, const std::vector<float>& got,
                const std::string& where) {
  int failures = 0;
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < o.ldc; ++j) {
      const size_t idx = static_cast<size_t>(i * o.ldc + j);
      if (j >= c.n) {
        ASSERT_EQ(got[idx], kSentinel) << where << " wrote padding at " << i << "," << j;
        continue;
      }
      const double err = std::fabs(double{got[idx]} - double{e.ref[idx]});
      if (!(err <= e.tol[idx]) && ++failures <= 5) {
        ADD_FAILURE() << where << " at (" << i << "," << j << "): got " << got[idx] << " ref "
                      << e.ref[idx] << " tol " << e.tol[idx];
      }
    }
  }
  ASSERT_EQ(failures, 0) << where;
}

// Runs `body(target_name)` once per compiled target that this CPU supports.
template <class Body>
void ForEachTarget(const Body& body) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    body(std::string(hwy::TargetName(target)));
  }
  hwy::SetSupportedTargetsForTest(0);
}

std::vector<Case> AwkwardCases() {
  std::vector<Case> cases;
  const int64_t small[] = {1, 3, 7, 17, 33, 65};
  int variant = 0;
  for (int64_t m : small) {
    for (int64_t n : small) {
      for (int64_t k : small) {
        Case c;
        c.m = m, c.n = n, c.k = k;
        c.trans_a = variant & 1;
        c.trans_b = (variant >> 1) & 1;
        ++variant;
        cases.push_back(c);
      }
    }
  }
  // Sizes past the register tile, the K block (256), the M block and several N panels.
  const int64_t big[][3] = {{127, 257, 65},  {257, 127, 300}, {33, 65, 513}, {300, 17, 257},
                            {257, 257, 257}, {1, 4100, 20},   {6, 33, 1},    {14, 32, 1000}};
  for (const auto& s : big) {
    for (int t = 0; t < 4; ++t) {
      Case c;
      c.m = s[0], c.n = s[1], c.k = s[2];
      c.trans_a = t & 1;
      c.trans_b = t >> 1;
      cases.push_back(c);
    }
  }
  return cases;
}

TEST(SgemmTest, AwkwardSizesAndTransposesEveryTarget) {
  const std::vector<Case> cases = AwkwardCases();
  uint32_t seed = 1;
  for (const Case& c : cases) {
    const Operands o(c, seed++);
    const Expected e(c, o);
    ForEachTarget([&](const std::string& target) {
      ExpectNear(c, o, e, RunSgemm(c, o, nullptr), target + " " + c.Name());
    });
    if (HasFailure()) return;
  }
}

TEST(SgemmTest, AlphaBetaAndLeadingDimensionsEveryTarget) {
  std::vector<Case> cases;
  const float alphas[] = {1.0f, -0.5f, 2.0f, 0.0f};
  const float betas[] = {0.0f, 1.0f, -1.5f, 0.25f};
  const int64_t shapes[][3] = {{7, 17, 3}, {33, 65, 300}, {65, 33, 17}, {3, 127, 1}};
  int variant = 0;
  for (const auto& s : shapes) {
    for (float alpha : alphas) {
      for (float beta : betas) {
        Case c;
        c.m = s[0], c.n = s[1], c.k = s[2];
        c.alpha = alpha, c.beta = beta;
        c.trans_a = variant & 1;
        c.trans_b = (variant >> 1) & 1;
        c.pad = variant % 3 == 0 ? 0 : 5 + variant % 7;
        ++variant;
        cases.push_back(c);
      }
    }
  }
  uint32_t seed = 100;
  for (const Case& c : cases) {
    const Operands o(c, seed++);
    const Expected e(c, o);
    ForEachTarget([&](const std::string& target) {
      ExpectNear(c, o, e, RunSgemm(c, o, nullptr), target + " " + c.Name());
    });
    if (HasFailure()) return;
  }
}

TEST(SgemmTest, ZeroKScalesC) {
  for (float beta : {0.0f, 2.0f}) {
    Case c;
    c.m = 3, c.n = 5, c.k = 0, c.beta = beta, c.pad = 2;
    Operands o(c, 7);
    const std::vector<float> got = RunSgemm(c, o, nullptr);
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        const float want = beta == 0.0f ? 0.0f : beta * o.c0[i * o.ldc + j];
        EXPECT_EQ(got[i * o.ldc + j], want);
      }
      EXPECT_EQ(got[i * o.ldc + c.n], kSentinel);
    }
  }
}

TEST(SgemmTest, PackedMatchesUnpackedBitwiseEveryTarget) {
  ThreadPool pool(2);
  const int64_t shapes[][3] = {
      {1, 1, 1}, {7, 33, 17}, {65, 257, 300}, {300, 17, 513}, {2, 4100, 9}};
  uint32_t seed = 500;
  for (const auto& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      Case c;
      c.m = s[0], c.n = s[1], c.k = s[2];
      c.trans_a = t & 1;
      c.trans_b = t >> 1;
      c.alpha = 0.75f;
      c.beta = t == 3 ? 0.5f : 0.0f;
      c.pad = t;
      const Operands o(c, seed++);
      const Expected e(c, o);
      ForEachTarget([&](const std::string& target) {
        const std::vector<float> unpacked = RunSgemm(c, o, nullptr);
        ExpectNear(c, o, e, unpacked, target + " " + c.Name());
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          const std::vector<float> packed = RunPacked(c, o, p);
          EXPECT_EQ(0, std::memcmp(packed.data(), unpacked.data(), packed.size() * sizeof(float)))
              << target << " " << c.Name() << " threads=" << (p ? 2 : 1);
        }
      });
      if (HasFailure()) return;
    }
  }
}

// B (row-major, ldb) handed to the GEMM panel by panel, as a conv's im2col writer would;
// also scribbles NaN over the slack after each block, which the GEMM must not read.
class CopyingWriter final : public BPanelWriter {
 public:
  CopyingWriter(const float* b, int64_t ldb) : b_(b), ldb_(ldb) {}
  void Write(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t nr,
             float* out) const override {
    const int64_t panels = (nc + nr - 1) / nr;
    for (int64_t j = 0; j < panels * nr; ++j) {
      for (int64_t kk = 0; kk < kc; ++kk) {
        out[(j / nr) * kc * nr + kk * nr + j % nr] = j < nc ? b_[(k0 + kk) * ldb_ + n0 + j] : 0.0f;
      }
    }
    std::fill(out + panels * kc * nr, out + panels * kc * nr + kBPanelSlack,
              std::numeric_limits<float>::quiet_NaN());
  }

 private:
  const float* b_;
  int64_t ldb_;
};

TEST(SgemmTest, PackedAMatchesUnpackedBitwiseEveryTarget) {
  ThreadPool pool2(2), pool3(3);
  // Awkward sizes: below / across the register tile, the K block (256) and many panels.
  const int64_t shapes[][3] = {{1, 1, 1},     {6, 16, 150},   {13, 33, 17},   {16, 700, 288},
                               {32, 90, 513}, {65, 257, 300}, {300, 17, 513}, {2, 4100, 9}};
  uint32_t seed = 1300;
  for (const auto& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      Case c;
      c.m = s[0], c.n = s[1], c.k = s[2];
      c.trans_a = t & 1;
      c.trans_b = t >> 1;
      c.alpha = t == 2 ? 1.0f : 0.75f;
      c.beta = t == 3 ? 0.5f : 0.0f;
      c.pad = t;
      const Operands o(c, seed++);
      const Expected e(c, o);
      ForEachTarget([&](const std::string& target) {
        const std::vector<float> unpacked = RunSgemm(c, o, nullptr);
        ExpectNear(c, o, e, unpacked, target + " " + c.Name());
        const std::unique_ptr<PackedA> packed =
            PackedA::Pack(c.trans_a, c.m, c.k, o.a.data(), o.lda);
        EXPECT_EQ(packed->m(), c.m);
        EXPECT_EQ(packed->k(), c.k);
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
          const std::string where =
              target + " " + c.Name() + " threads=" + std::to_string(p ? p->num_threads() : 1);
          std::vector<float> got = o.c0;
          SgemmPackedA(*packed, c.trans_b, c.n, c.alpha, o.b.data(), o.ldb, c.beta, got.data(),
                       o.ldc, p);
          EXPECT_EQ(0, std::memcmp(got.data(), unpacked.data(), got.size() * sizeof(float)))
              << where;
          if (c.trans_b) continue;  // the writer reads B row-major
          got = o.c0;
          const CopyingWriter writer(o.b.data(), o.ldb);
          SgemmPackedA(*packed, c.n, writer, c.alpha, c.beta, got.data(), o.ldc, p);
          EXPECT_EQ(0, std::memcmp(got.data(), unpacked.data(), got.size() * sizeof(float)))
              << where << " (writer)";
        }
      });
      if (HasFailure()) return;
    }
  }
}

TEST(SgemmTest, BitIdenticalForAnyThreadCountEveryTarget) {
  ThreadPool pool2(2), pool3(3);
  // Wide (splits N), tall (splits M), and everything between.
  const int64_t shapes[][3] = {{64, 64, 64},    {65, 1000, 257}, {1000, 20, 300},
                               {257, 257, 513}, {3, 700, 40},    {500, 1, 64}};
  uint32_t seed = 900;
  for (const auto& s : shapes) {
    Case c;
    c.m = s[0], c.n = s[1], c.k = s[2];
    c.alpha = 1.25f;
    c.beta = 0.5f;
    c.trans_a = seed & 1;
    const Operands o(c, seed++);
    const Expected e(c, o);
    ForEachTarget([&](const std::string& target) {
      const std::vector<float> one = RunSgemm(c, o, nullptr);
      ExpectNear(c, o, e, one, target + " " + c.Name());
      for (ThreadPool* p : {&pool2, &pool3}) {
        const std::vector<float> many = RunSgemm(c, o, p);
        EXPECT_EQ(0, std::memcmp(one.data(), many.data(), one.size() * sizeof(float)))
            << target << " " << c.Name() << " threads=" << p->num_threads();
      }
    });
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace mp::kernels
