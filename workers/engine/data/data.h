// mp::data — getting samples into the engine: files in, batches of tensors out.
//
//   npy.h         .npy read/write (numpy's format; strict header validation, atomic writes)
//   idx.h         IDX read (MNIST / Fashion-MNIST), gzip'd transparently with a size cap
//   gzip.h        bounded gzip decompression (zlib)
//   convert.h     dtype conversions: inputs to float32 (x / divisor), labels to int64
//   dataset.h     Dataset [N, ...] + int64 labels [N]; Batcher: batches, last partial batch,
//                 seeded shuffling per epoch
//   shuffle.h     SplitMix64 + Fisher–Yates: the same permutation on every platform
//   dataset_io.h  LoadIdxDataset / LoadNpyDataset: files -> Dataset
//
// ONNX TensorProto .pb inputs (the conformance-suite format) are read by the onnx module
// (workers/engine/onnx), which alone may include ONNX headers; it hands over Tensors that
// Dataset::Make accepts.
//
// Contract for every reader: input from files is never trusted. Sizes are checked in
// int64 arithmetic without overflow before anything is allocated; the data must be exactly
// as long as the header says; failures are absl::Status values (INVALID_ARGUMENT for
// malformed input, RESOURCE_EXHAUSTED for over-limit sizes, NOT_FOUND for missing files,
// UNIMPLEMENTED for valid but unsupported element types) whose message starts with the file.
//
// Typical use (Fashion-MNIST test split as float32 [N, 1, 28, 28] in [0, 1]):
//   auto paths = data::MnistSplitPaths("/usr/share/datasets/fashion-mnist", "t10k");
//   ASSIGN_OR_RETURN(data::Dataset ds, data::LoadIdxDataset(paths.images, paths.labels));
//   ASSIGN_OR_RETURN(data::Batcher batches,
//                    data::Batcher::Make(ds, {.batch_size = 64, .shuffle = true, .seed = 7}));
//   for (int64_t i = 0; i < batches.num_batches(); ++i) {
//     ASSIGN_OR_RETURN(data::Batch b, batches.GetBatch(i));  // b.inputs, b.labels
//   }
#ifndef MP_WORKERS_ENGINE_DATA_DATA_H_
#define MP_WORKERS_ENGINE_DATA_DATA_H_

#include "workers/engine/data/convert.h"     // IWYU pragma: export
#include "workers/engine/data/dataset.h"     // IWYU pragma: export
#include "workers/engine/data/dataset_io.h"  // IWYU pragma: export
#include "workers/engine/data/gzip.h"        // IWYU pragma: export
#include "workers/engine/data/idx.h"         // IWYU pragma: export
#include "workers/engine/data/npy.h"         // IWYU pragma: export
#include "workers/engine/data/shuffle.h"     // IWYU pragma: export

#endif  // MP_WORKERS_ENGINE_DATA_DATA_H_
