// Feed validation shared by exec::Session::Run and train::GradGraph::Forward.
#ifndef MP_WORKERS_ENGINE_EXEC_FEEDS_H_
#define MP_WORKERS_ENGINE_EXEC_FEEDS_H_

#include "absl/status/status.h"
#include "workers/engine/exec/session.h"

namespace mp::exec {

// OK when a feed of `dtype` and `shape` fits input `io` as declared: the declared dtype (if
// any), a known-size dtype, the declared rank (if any) and every known declared dim.
// INVALID_ARGUMENT otherwise: "input 'x': expected float32, got int64" / "input 'x': dim 1
// is 5, expected 3 (declared [N, 3, 224, 224])".
absl::Status CheckFeed(const IoInfo& io, tensor::DType dtype, const tensor::Shape& shape);

}  // namespace mp::exec

#endif  // MP_WORKERS_ENGINE_EXEC_FEEDS_H_
