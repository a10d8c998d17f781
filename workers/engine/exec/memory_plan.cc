#include "workers/engine/exec/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace mp::exec {
namespace {

int64_t AlignUp(int64_t v, int64_t alignment) { return (v + alignment - 1) & ~(alignment - 1); }

}  // namespace

MemoryPlan PlanMemory(std::span<const BufferRequest> requests, int64_t alignment) {
  const size_t n = requests.size();
  MemoryPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    return requests[a].first < requests[b].first;
  });
  std::vector<size_t> placed;
  struct Range {
    int64_t begin, end;
  };
  std::vector<Range> busy;
  for (size_t r : order) {
    const BufferRequest& req = requests[r];
    if (req.bytes <= 0) continue;
    busy.clear();
    for (size_t p : placed) {
      const BufferRequest& other = requests[p];
      if (other.last < req.first || other.first > req.last) continue;
      busy.push_back({plan.offsets[p], plan.offsets[p] + other.bytes});
    }
    std::sort(busy.begin(), busy.end(),
              [](const Range& a, const Range& b) { return a.begin < b.begin; });
    int64_t offset = 0;
    for (const Range& b : busy) {
      if (offset + req.bytes <= b.begin) break;  // fits in the gap before b
      offset = std::max(offset, AlignUp(b.end, alignment));
    }
    plan.offsets[r] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, AlignUp(offset + req.bytes, alignment));
    placed.push_back(r);
  }
  return plan;
}

}  // namespace mp::exec
