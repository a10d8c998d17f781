// mp::quant — post-training quantization: observers, calibrators, quantization parameters,
// the QDQ quantizer, dynamic and weight-only quantization, and the error / sensitivity
// diagnosis. This header is the module's documentation; the pieces:
//
//   observer.h     TensorObserver: streaming min / max / zero count and fixed-width signed
//                  histograms (memory bounded by the number of tensors, not of samples)
//   calibrator.h   ranges from observations: minmax, percentile, entropy (TensorRT's KL
//                  divergence), mse (the clipping range with the least quantization error)
//   calibrate.h    Calibrate: streams a dataset through an fp32 exec::Session (two passes
//                  for histogram methods) and returns a range per float32 activation
//   qparams.h      schemes (uint8 asymmetric / int8 symmetric activations; int8 symmetric
//                  weights per channel or per tensor, 7-bit with reduce_range; int32 bias
//                  with scale s_x * s_w), ONNX rounding, SQNR / MSE
//   quantizer.h    QuantizeStatic: fp32 model + ranges -> QDQ model as ONNX Runtime's QDQ
//                  quantizer writes it (Conv incl. depthwise, ConvTranspose, Gemm, MatMul,
//                  Add, Concat, pooling; MaxPool / Reshape / ... carry quantized tensors;
//                  Relu / Clip fused when exact); per-layer exclusion for fp32 fallback
//   dynamic.h      QuantizeDynamic: int8 weights for MatMul / Gemm with activation scales
//                  computed at run time (DynamicQuantizeLinear + MatMulInteger)
//   weight_only.h  ConvertWeights: fp16 / bf16 weight storage with a Cast back to float32
//   diagnose.h     per-tensor SQNR / MSE of activations (QDQ model vs fp32, same inputs) and
//                  per-layer sensitivity (output SQNR / top-1 when only that layer is
//                  quantized), ranked
//   target.h       the deployment target (x86 with / without VNNI, ARM) and the Highway
//                  target of this CPU; 7-bit weights where the target's int8 kernels
//                  saturate (DESIGN.md §5 "The deployment runtime saturates too")
//
// Typical flow (pipeline/ptq.cc):
//   ASSIGN_OR_RETURN(auto fp32, exec::Session::Create(model));
//   ir::Model folded = fp32->model(); NameNodes(folded.graph);
//   ASSIGN_OR_RETURN(CalibrationResult cal, Calibrate(*fp32, calib_data, {...}));
//   ASSIGN_OR_RETURN(QuantizeResult q, QuantizeStatic(folded, cal.ranges, {...}));
//   onnx::ExportModelFile(q.model, "model.int8.onnx");
//
// Errors are values: bad data (NaN / Inf activations, empty sets) is INVALID_ARGUMENT naming
// the tensor; a model PTQ cannot handle is UNIMPLEMENTED naming the node or opset.
#ifndef MP_WORKERS_ENGINE_QUANT_QUANT_H_
#define MP_WORKERS_ENGINE_QUANT_QUANT_H_

#include "workers/engine/quant/calibrate.h"    // IWYU pragma: export
#include "workers/engine/quant/calibrator.h"   // IWYU pragma: export
#include "workers/engine/quant/diagnose.h"     // IWYU pragma: export
#include "workers/engine/quant/dynamic.h"      // IWYU pragma: export
#include "workers/engine/quant/fallback.h"     // IWYU pragma: export
#include "workers/engine/quant/observer.h"     // IWYU pragma: export
#include "workers/engine/quant/qparams.h"      // IWYU pragma: export
#include "workers/engine/quant/quantizer.h"    // IWYU pragma: export
#include "workers/engine/quant/target.h"       // IWYU pragma: export
#include "workers/engine/quant/weight_only.h"  // IWYU pragma: export

#endif  // MP_WORKERS_ENGINE_QUANT_QUANT_H_
