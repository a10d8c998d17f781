// IEEE 754 binary16 (float16) and bfloat16 conversions, bit-exact and portable (no F16C).
// float -> half/bfloat16 rounds to nearest, ties to even; NaN stays NaN (quiet); values
// beyond the range become +-inf. half/bfloat16 -> float is exact.
#ifndef MP_WORKERS_ENGINE_TENSOR_FLOAT16_H_
#define MP_WORKERS_ENGINE_TENSOR_FLOAT16_H_

#include <cstdint>

namespace mp::tensor {

uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t bits);
uint16_t FloatToBFloat16(float value);
float BFloat16ToFloat(uint16_t bits);

}  // namespace mp::tensor

#endif  // MP_WORKERS_ENGINE_TENSOR_FLOAT16_H_
