// Internals shared by npy_header.cc and npy.cc; not part of the module's API.
#ifndef MP_WORKERS_ENGINE_DATA_NPY_INTERNAL_H_
#define MP_WORKERS_ENGINE_DATA_NPY_INTERNAL_H_

#include <string>

#include "workers/engine/tensor/tensor.h"

namespace mp::data::internal {

// The canonical descr ('<f4', '|u1', ...) for `dtype`, or nullptr if numpy cannot name it.
const char* NpyDescrOf(tensor::DType dtype);

// Preamble + padded header dict for an array of `dtype` (NpyDescrOf must be non-null) and
// `shape`; its length is a multiple of 64.
std::string EncodeNpyHeader(tensor::DType dtype, const tensor::Shape& shape);

}  // namespace mp::data::internal

#endif  // MP_WORKERS_ENGINE_DATA_NPY_INTERNAL_H_
