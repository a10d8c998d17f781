// ThreadPool: num_threads - 1 workers plus the calling thread.
//
// Protocol: ParallelFor writes the job (fn, n), then publishes `claim` = (generation,
// chunks, next chunk) with one release store and wakes the workers. The chunk boundaries are
// fixed by (n, min_chunk, num_threads); which thread runs which chunk is not: the caller and
// the workers claim chunks with a CAS on `claim`, so a worker that is descheduled on a busy
// machine never holds the caller up (the caller runs the chunk itself). A thread reads the
// job only after claiming one of its chunks, and the caller returns only after `completed`
// counts every chunk, so a job is never rewritten while a thread still reads it. Idle
// threads poll briefly (kSpinTime) before sleeping on a condition variable, which keeps
// back-to-back calls cheap without burning a shared core.
#include "workers/engine/kernels/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/check.h"

namespace mp::kernels {
namespace {

// How long a thread polls before blocking on a condition variable: long enough to catch
// back-to-back ParallelFor calls (a model's ops run a few single-threaded microseconds to
// tens of them apart; a sleeping worker's wake-up costs far more on a VM), short enough not
// to steal a shared core for long.
constexpr auto kSpinTime = std::chrono::microseconds(200);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls `done` for up to kSpinTime; returns its last value.
template <class Pred>
bool SpinFor(const Pred& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

// `claim` layout: generation (32 bits) | chunk count (16) | next unclaimed chunk (16).
constexpr int kMaxThreads = 4096;
inline uint64_t PackClaim(uint32_t gen, int64_t chunks, int64_t next) {
  return (uint64_t{gen} << 32) | (static_cast<uint64_t>(chunks) << 16) |
         static_cast<uint64_t>(next);
}
inline uint32_t ClaimGen(uint64_t c) { return static_cast<uint32_t>(c >> 32); }
inline int64_t ClaimChunks(uint64_t c) { return static_cast<int64_t>((c >> 16) & 0xffff); }
inline int64_t ClaimNext(uint64_t c) { return static_cast<int64_t>(c & 0xffff); }

// Chunk `i` of `chunks` over [0, n): balanced, so every chunk has at least n / chunks items.
inline void ChunkBounds(int64_t n, int64_t chunks, int64_t i, int64_t* begin, int64_t* end) {
  *begin = n * i / chunks;
  *end = n * (i + 1) / chunks;
}

}  // namespace

struct ThreadPool::Impl {
  explicit Impl(int n) : num_threads(n) {}

  void WorkerLoop();
  // Claims and runs chunks of job `gen` until none is left (or a newer job is published).
  void ClaimAndRun(uint32_t gen);

  const int num_threads;
  std::vector<std::thread> workers;

  std::mutex call_mu;  // serialises concurrent ParallelFor callers
  std::mutex mu;
  std::condition_variable work_cv;
  std::condition_variable done_cv;
  std::atomic<uint64_t> claim{0};
  std::atomic<int64_t> completed{0};
  uint32_t last_gen = 0;  // caller side only, under call_mu
  bool stop = false;      // guarded by mu

  // The current job: written before `claim` is published (release), read by a thread only
  // after it claimed a chunk (acquire) and before that chunk counts as completed.
  const std::function<void(int64_t, int64_t)>* job_fn = nullptr;
  int64_t job_n = 0;
};

void ThreadPool::Impl::ClaimAndRun(uint32_t gen) {
  uint64_t c = claim.load(std::memory_order_acquire);
  for (;;) {
    if (ClaimGen(c) != gen || ClaimNext(c) >= ClaimChunks(c)) return;
    if (!claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      continue;  // `c` was reloaded
    }
    const int64_t chunks = ClaimChunks(c);
    int64_t begin, end;
    ChunkBounds(job_n, chunks, ClaimNext(c), &begin, &end);
    (*job_fn)(begin, end);
    if (completed.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
      // Lock so the notification cannot slip between the caller's check and its wait.
      std::lock_guard<std::mutex> lock(mu);
      done_cv.notify_one();
    }
    c = claim.load(std::memory_order_acquire);
  }
}

void ThreadPool::Impl::WorkerLoop() {
  uint32_t seen = 0;
  for (;;) {
    uint64_t c = 0;
    auto fresh = [&] {
      c = claim.load(std::memory_order_acquire);
      return ClaimGen(c) != seen;
    };
    if (!SpinFor(fresh)) {
      std::unique_lock<std::mutex> lock(mu);
      work_cv.wait(lock, [&] { return stop || fresh(); });
      if (stop) return;
    }
    seen = ClaimGen(c);
    ClaimAndRun(seen);
  }
}

ThreadPool::ThreadPool(int num_threads) : impl_(nullptr) {
  MP_CHECK(num_threads >= 1 && num_threads <= kMaxThreads) << "num_threads=" << num_threads;
  impl_ = new Impl(num_threads);
  impl_->workers.reserve(num_threads - 1);
  for (int i = 0; i + 1 < num_threads; ++i) {
    impl_->workers.emplace_back([this] { impl_->WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->work_cv.notify_all();
  for (std::thread& t : impl_->workers) t.join();
  delete impl_;
}

int ThreadPool::num_threads() const { return impl_->num_threads; }

void ThreadPool::ParallelFor(int64_t n, int64_t min_chunk,
                             const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (n <= 0) return;
  min_chunk = std::max<int64_t>(1, min_chunk);
  const int64_t chunks = std::clamp<int64_t>(n / min_chunk, 1, impl_->num_threads);
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  Impl& s = *impl_;
  std::lock_guard<std::mutex> call_lock(s.call_mu);
  const uint32_t gen = ++s.last_gen == 0 ? ++s.last_gen : s.last_gen;  // 0 means "no job"
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.job_fn = &fn;
    s.job_n = n;
    s.completed.store(0, std::memory_order_relaxed);
    s.claim.store(PackClaim(gen, chunks, 0), std::memory_order_release);
  }
  s.work_cv.notify_all();
  s.ClaimAndRun(gen);
  auto done = [&] { return s.completed.load(std::memory_order_acquire) == chunks; };
  if (!SpinFor(done)) {
    std::unique_lock<std::mutex> lock(s.mu);
    s.done_cv.wait(lock, done);
  }
}

void ParallelForOrInline(ThreadPool* pool, int64_t n,
                         const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (n <= 0) return;
  if (pool != nullptr && pool->num_threads() > 1) {
    pool->ParallelFor(n, 1, fn);
  } else {
    fn(0, n);
  }
}

}  // namespace mp::kernels
