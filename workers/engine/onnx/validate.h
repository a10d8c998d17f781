// Structural validation of a parsed ModelProto before anything else reads it (DESIGN.md §5).
// Internal to mp::onnx. Tensor contents are checked when converted (tensor_proto.h); this
// pass checks everything else listed in onnx.h: versions and opsets, domains, counts,
// string lengths, attribute kinds (no subgraphs), and the external-data flags of every
// tensor, so that no error depends on conversion order.
#ifndef MP_WORKERS_ENGINE_ONNX_VALIDATE_H_
#define MP_WORKERS_ENGINE_ONNX_VALIDATE_H_

#include "absl/status/status.h"
#include "onnx/onnx_pb.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::onnx {

inline constexpr int64_t kMinIrVersion = 3;
inline constexpr int64_t kMaxIrVersion = 10;
inline constexpr int64_t kMinOpset = 7;
inline constexpr int64_t kMaxOpset = 21;

absl::Status ValidateModelProto(const ::onnx::ModelProto& model, const ImportLimits& limits);

// Every node's op type exists in ONNX's schema registry at the model's default-domain
// opset; UNIMPLEMENTED naming the node otherwise. Call after ValidateModelProto.
absl::Status CheckOperatorsKnown(const ::onnx::ModelProto& model);

}  // namespace mp::onnx

#endif  // MP_WORKERS_ENGINE_ONNX_VALIDATE_H_
