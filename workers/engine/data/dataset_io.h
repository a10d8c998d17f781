// Loading datasets from files: IDX (MNIST / Fashion-MNIST) and .npy pairs.
#ifndef MP_WORKERS_ENGINE_DATA_DATASET_IO_H_
#define MP_WORKERS_ENGINE_DATA_DATASET_IO_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "workers/engine/data/dataset.h"
#include "workers/engine/data/idx.h"
#include "workers/engine/data/npy.h"

namespace mp::data {

struct IdxDatasetOptions {
  // uint8 images -> float32 x / 255 in [0, 1] (the preprocessing of the fixture models).
  bool normalize = true;
  // [N, H, W] -> [N, 1, H, W] (NCHW with one channel). Only applied to rank-3 images.
  bool add_channel_dim = true;
  // Keep only the first `limit` samples; -1 keeps all.
  int64_t limit = -1;
  IdxReadOptions read = {};
};

// The two files of one MNIST-style split: <dir>/<split>-images-idx3-ubyte.gz and
// <dir>/<split>-labels-idx1-ubyte.gz, split "train" or "t10k" (Fashion-MNIST is installed
// under /usr/share/datasets/fashion-mnist with these names).
struct IdxSplitPaths {
  std::string images;
  std::string labels;
};
IdxSplitPaths MnistSplitPaths(std::string_view dir, std::string_view split);

// Images (IDX, rank >= 2, any element type) and labels (IDX of integers, rank 1, same N; pass
// "" for none; widened to int64). INVALID_ARGUMENT naming both files when the counts differ.
absl::StatusOr<Dataset> LoadIdxDataset(const std::string& images_path,
                                       const std::string& labels_path,
                                       const IdxDatasetOptions& options = {});

struct NpyDatasetOptions {
  // Keep only the first `limit` samples; -1 keeps all.
  int64_t limit = -1;
  // float64 inputs become float32 by default (npy.h explains the decision).
  NpyReadOptions read{.max_bytes = int64_t{1} << 32, .float64_to_float32 = true};
};

// Inputs [N, ...] from a .npy file (kept in their dtype, apart from float64) and optional
// labels [N] of an integer dtype ("" for none; widened to int64).
absl::StatusOr<Dataset> LoadNpyDataset(const std::string& inputs_path,
                                       const std::string& labels_path,
                                       const NpyDatasetOptions& options = {});

}  // namespace mp::data

#endif  // MP_WORKERS_ENGINE_DATA_DATASET_IO_H_
