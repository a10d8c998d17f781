// Arena offset assignment for intermediate tensors with known lifetimes.
//
// Each request is a buffer of `bytes` live from step `first` to step `last` (inclusive).
// Two buffers whose intervals intersect get disjoint byte ranges; others may share bytes.
// Greedy by size (largest first, ties by first step then index, so the plan is a pure
// function of the requests): each buffer takes the lowest `alignment`-aligned offset that
// fits between the buffers already placed whose lifetimes intersect its own. This is the
// TFLite "greedy by size" arena strategy; it is not optimal but near it on chains and
// residual networks.
#ifndef MP_WORKERS_ENGINE_EXEC_MEMORY_PLAN_H_
#define MP_WORKERS_ENGINE_EXEC_MEMORY_PLAN_H_

#include <cstdint>
#include <span>
#include <vector>

namespace mp::exec {

struct BufferRequest {
  int64_t bytes = 0;
  int first = 0;  // step producing it
  int last = 0;   // last step reading it (>= first)
};

struct MemoryPlan {
  std::vector<int64_t> offsets;  // one per request, multiples of the alignment
  int64_t arena_bytes = 0;       // max over requests of offset + bytes, aligned up
};

// `alignment` is a power of two. Zero-byte requests get offset 0.
MemoryPlan PlanMemory(std::span<const BufferRequest> requests, int64_t alignment = 64);

}  // namespace mp::exec

#endif  // MP_WORKERS_ENGINE_EXEC_MEMORY_PLAN_H_
