// mp::kernels::ThreadPool — the one way engine code runs work on several threads.
//
// ParallelFor(n, fn) splits [0, n) into contiguous chunks and calls fn(begin, end) for each,
// on the pool's threads and the calling thread, returning when all are done. The partition
// depends only on n, min_chunk and num_threads(), never on timing, so a kernel that writes
// disjoint outputs per chunk produces the same bytes every run. Results must not depend on
// the thread count either: kernels split only over independent output elements (never a
// reduction), so 1 and N threads give identical bytes.
#ifndef MP_WORKERS_ENGINE_KERNELS_PARALLEL_H_
#define MP_WORKERS_ENGINE_KERNELS_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace mp::kernels {

class ThreadPool {
 public:
  // `num_threads` >= 1 counts the calling thread: 1 means run inline, spawn nothing.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const;

  // Calls fn(begin, end) over a partition of [0, n) into at most num_threads() chunks of
  // at least `min_chunk` items (the last may be shorter). Not reentrant: fn must not call
  // ParallelFor on the same pool. n <= 0 does nothing. Calls from several threads at once
  // are serialised. Which thread runs which chunk varies; the chunk boundaries do not.
  void ParallelFor(int64_t n, int64_t min_chunk,
                   const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  struct Impl;
  Impl* impl_;
};

// pool->ParallelFor(n, 1, fn) when `pool` has more than one thread, else fn(0, n) inline
// (pool may be null). n <= 0 does nothing.
void ParallelForOrInline(ThreadPool* pool, int64_t n,
                         const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_PARALLEL_H_
