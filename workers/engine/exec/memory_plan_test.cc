#include "workers/engine/exec/memory_plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::exec {
namespace {

bool Overlap(int64_t a, int64_t an, int64_t b, int64_t bn) { return a < b + bn && b < a + an; }

// Every pair of requests with intersecting lifetimes has disjoint bytes.
void ExpectValid(const std::vector<BufferRequest>& reqs, const MemoryPlan& plan) {
  ASSERT_EQ(plan.offsets.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % 64, 0);
    EXPECT_LE(plan.offsets[i] + reqs[i].bytes, plan.arena_bytes);
    for (size_t j = i + 1; j < reqs.size(); ++j) {
      const bool live_together = !(reqs[i].last < reqs[j].first || reqs[j].last < reqs[i].first);
      if (live_together && reqs[i].bytes > 0 && reqs[j].bytes > 0) {
        EXPECT_FALSE(Overlap(plan.offsets[i], reqs[i].bytes, plan.offsets[j], reqs[j].bytes))
            << i << " and " << j;
      }
    }
  }
}

TEST(MemoryPlan, ChainReusesTwoBuffers) {
  // t_k produced at step k, read at step k+1: a chain needs only two live buffers.
  std::vector<BufferRequest> reqs;
  for (int k = 0; k < 10; ++k) reqs.push_back({1000, k, k + 1});
  MemoryPlan plan = PlanMemory(reqs);
  ExpectValid(reqs, plan);
  EXPECT_EQ(plan.arena_bytes, 2 * 1024);
}

TEST(MemoryPlan, OverlappingLifetimesGetDisjointBytes) {
  std::vector<BufferRequest> reqs = {{100, 0, 5}, {200, 1, 2}, {300, 2, 4}, {50, 3, 6},
                                     {400, 5, 6}, {0, 0, 6},   {64, 6, 6}};
  MemoryPlan plan = PlanMemory(reqs);
  ExpectValid(reqs, plan);
  int64_t sum = 0;
  for (const auto& r : reqs) sum += (r.bytes + 63) / 64 * 64;
  EXPECT_LT(plan.arena_bytes, sum);
}

TEST(MemoryPlan, FillsGapsAndIsDeterministic) {
  // A big long-lived buffer and small short ones that can reuse each other.
  std::vector<BufferRequest> reqs = {{4096, 0, 9}, {1024, 0, 1}, {1024, 2, 3}, {1024, 1, 2}};
  MemoryPlan a = PlanMemory(reqs);
  MemoryPlan b = PlanMemory(reqs);
  ExpectValid(reqs, a);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.arena_bytes, 4096 + 2048);
}

}  // namespace
}  // namespace mp::exec
