// Weight-only float16 / bfloat16: the float32 weights of Conv, ConvTranspose, Gemm and
// MatMul (every constant float32 input with more than one element) are stored as
// float16 or bfloat16 and cast back to float32 by a Cast node in front of the consumer, so
// the model file halves while compute stays float32 (values are rounded to nearest even,
// tensor/float16.h). bfloat16 needs opset >= 13 (Cast from bfloat16); float16 any opset.
#ifndef MP_WORKERS_ENGINE_QUANT_WEIGHT_ONLY_H_
#define MP_WORKERS_ENGINE_QUANT_WEIGHT_ONLY_H_

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/quant/quantizer.h"

namespace mp::quant {

// `dtype` is kFloat16 or kBFloat16 (INVALID_ARGUMENT otherwise). result.tensors lists the
// converted weights with their SQNR against float32; result.layers the consumers.
absl::StatusOr<QuantizeResult> ConvertWeights(const ir::Model& model, tensor::DType dtype);

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_WEIGHT_ONLY_H_
