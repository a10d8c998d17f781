// ThreadPool: partition contract, coverage, determinism, concurrency and shutdown.
#include "workers/engine/kernels/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace mp::kernels {
namespace {

using Chunks = std::vector<std::pair<int64_t, int64_t>>;

// Records the chunks of one ParallelFor call, sorted by begin.
Chunks RecordChunks(ThreadPool* pool, int64_t n, int64_t min_chunk) {
  std::mutex mu;
  Chunks chunks;
  pool->ParallelFor(n, min_chunk, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mu);
    chunks.emplace_back(begin, end);
  });
  std::sort(chunks.begin(), chunks.end());
  return chunks;
}

TEST(ThreadPoolTest, ReportsThreadCount) {
  for (int t : {1, 2, 5}) {
    ThreadPool pool(t);
    EXPECT_EQ(pool.num_threads(), t);
  }
}

TEST(ThreadPoolTest, PartitionCoversRangeOnceWithinContract) {
  for (int threads : {1, 2, 3, 4, 7}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 3, 5, 7, 8, 16, 100, 1001}) {
      for (int64_t min_chunk : {0, 1, 2, 3, 10, 64, 5000}) {
        const Chunks chunks = RecordChunks(&pool, n, min_chunk);
        ASSERT_FALSE(chunks.empty());
        EXPECT_LE(static_cast<int>(chunks.size()), threads);
        int64_t expect_begin = 0;
        for (size_t i = 0; i < chunks.size(); ++i) {
          EXPECT_EQ(chunks[i].first, expect_begin) << "gap or overlap, n=" << n;
          EXPECT_LT(chunks[i].first, chunks[i].second);
          expect_begin = chunks[i].second;
          if (chunks.size() > 1 && i + 1 < chunks.size()) {
            EXPECT_GE(chunks[i].second - chunks[i].first, min_chunk)
                << "n=" << n << " min_chunk=" << min_chunk << " threads=" << threads;
          }
        }
        EXPECT_EQ(expect_begin, n);
        // The partition depends only on (n, min_chunk, threads): identical on a repeat.
        EXPECT_EQ(RecordChunks(&pool, n, min_chunk), chunks);
      }
    }
  }
}

TEST(ThreadPoolTest, SpreadsWorkOverThreads) {
  ThreadPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  pool.ParallelFor(3, 1, [&](int64_t, int64_t) {
    // Long enough that a woken worker claims a chunk before the caller finishes its own.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_GE(ids.size(), 2u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 1u) << "caller runs a chunk too";
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerialisedSafely) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  auto caller = [&] {
    for (int round = 0; round < 500; ++round) {
      std::atomic<int64_t> local{0};
      pool.ParallelFor(64, 1, [&](int64_t begin, int64_t end) { local += end - begin; });
      EXPECT_EQ(local.load(), 64);
      total += local.load();
    }
  };
  std::thread other(caller);
  caller();
  other.join();
  EXPECT_EQ(total.load(), 2 * 500 * 64);
}

TEST(ThreadPoolTest, SmallWorkRunsInlineOnCaller) {
  ThreadPool pool(4);
  std::thread::id ran_on;
  int calls = 0;
  pool.ParallelFor(5, 100, [&](int64_t begin, int64_t end) {
    ++calls;
    ran_on = std::this_thread::get_id();
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 5);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(ThreadPoolTest, NonPositiveNDoesNothing) {
  ThreadPool pool(2);
  int calls = 0;
  pool.ParallelFor(0, 1, [&](int64_t, int64_t) { ++calls; });
  pool.ParallelFor(-3, 1, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPoolTest, ManyBackToBackCallsEachCompleteBeforeReturning) {
  ThreadPool pool(3);
  std::vector<int> hits(300, 0);
  for (int round = 0; round < 2000; ++round) {
    pool.ParallelFor(300, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) ++hits[i];
    });
    // Every element must have been written by the time ParallelFor returns.
    ASSERT_EQ(hits[0], round + 1);
    ASSERT_EQ(hits[299], round + 1);
  }
  for (int h : hits) EXPECT_EQ(h, 2000);
}

TEST(ThreadPoolTest, CallsAfterIdleSleepStillWork) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int round = 0; round < 3; ++round) {
    // Workers give up spinning and block on the condition variable in the meantime.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    pool.ParallelFor(10, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) sum += i;
    });
  }
  EXPECT_EQ(sum.load(), 3 * 45);
}

TEST(ThreadPoolTest, DestructionIsSafeWhetherIdleOrJustUsed) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool idle(3);
  }
  for (int i = 0; i < 50; ++i) {
    ThreadPool used(3);
    std::atomic<int> count{0};
    used.ParallelFor(3, 1, [&](int64_t b, int64_t e) { count += static_cast<int>(e - b); });
    EXPECT_EQ(count.load(), 3);
  }
}

TEST(ThreadPoolTest, ParallelForOrInlineCoversTheRangeOnceWithOrWithoutAPool) {
  ThreadPool one(1), three(3);
  for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &one, &three}) {
    std::vector<std::atomic<int>> hits(100);
    std::atomic<int> calls{0};
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> inline_only{true};
    ParallelForOrInline(pool, 100, [&](int64_t begin, int64_t end) {
      ++calls;
      if (std::this_thread::get_id() != caller) inline_only = false;
      for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
    });
    for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
    if (pool == nullptr || pool == &one) {
      EXPECT_EQ(calls.load(), 1);  // one inline call over the whole range
      EXPECT_TRUE(inline_only.load());
    } else {
      EXPECT_EQ(calls.load(), 3);
    }
  }
  int calls = 0;
  ParallelForOrInline(nullptr, 0, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace mp::kernels
