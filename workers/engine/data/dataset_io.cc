#include "workers/engine/data/dataset_io.h"

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/data/convert.h"

namespace mp::data {
namespace {

using tensor::Tensor;

// Checks labels against samples and builds the dataset, then applies `limit`.
absl::StatusOr<Dataset> Assemble(Tensor samples, const std::string& samples_path, Tensor labels,
                                 const std::string& labels_path, int64_t limit) {
  if (samples.rank() < 1) {
    return absl::InvalidArgumentError(
        StrCat(samples_path, ": samples must be [N, ...], got ", samples.DebugString()));
  }
  if (labels.defined()) {
    if (labels.rank() != 1) {
      return absl::InvalidArgumentError(
          StrCat(labels_path, ": labels must have rank 1, got ", labels.DebugString()));
    }
    if (labels.shape().dim(0) != samples.shape().dim(0)) {
      return absl::InvalidArgumentError(StrCat(labels_path, " has ", labels.shape().dim(0),
                                               " labels but ", samples_path, " has ",
                                               samples.shape().dim(0), " samples"));
    }
    ASSIGN_OR_RETURN(labels, ConvertLabelsToInt64(labels, labels_path));
  }
  ASSIGN_OR_RETURN(Dataset d, Dataset::Make(std::move(samples), std::move(labels)));
  if (limit >= 0) return d.Take(limit);
  return d;
}

}  // namespace

IdxSplitPaths MnistSplitPaths(std::string_view dir, std::string_view split) {
  return {StrCat(dir, "/", split, "-images-idx3-ubyte.gz"),
          StrCat(dir, "/", split, "-labels-idx1-ubyte.gz")};
}

absl::StatusOr<Dataset> LoadIdxDataset(const std::string& images_path,
                                       const std::string& labels_path,
                                       const IdxDatasetOptions& options) {
  ASSIGN_OR_RETURN(Tensor images, ReadIdx(images_path, options.read));
  if (images.rank() < 2) {
    return absl::InvalidArgumentError(
        StrCat(images_path, ": images must have rank >= 2, got ", images.DebugString()));
  }
  Tensor labels;
  if (!labels_path.empty()) {
    ASSIGN_OR_RETURN(labels, ReadIdx(labels_path, options.read));
  }
  ASSIGN_OR_RETURN(Dataset d, Assemble(std::move(images), images_path, std::move(labels),
                                       labels_path, options.limit));
  if (options.add_channel_dim && d.samples().rank() == 3) {
    std::vector<int64_t> dims = d.sample_dims();
    dims.insert(dims.begin(), 1);
    ASSIGN_OR_RETURN(d, d.WithSampleShape(std::move(dims)));
  }
  if (options.normalize && d.samples().dtype() == tensor::DType::kUint8) {
    ASSIGN_OR_RETURN(d, d.ToFloat32(255.0f));
  }
  return d;
}

absl::StatusOr<Dataset> LoadNpyDataset(const std::string& inputs_path,
                                       const std::string& labels_path,
                                       const NpyDatasetOptions& options) {
  ASSIGN_OR_RETURN(Tensor inputs, ReadNpy(inputs_path, options.read));
  Tensor labels;
  if (!labels_path.empty()) {
    ASSIGN_OR_RETURN(labels, ReadNpy(labels_path, options.read));
  }
  return Assemble(std::move(inputs), inputs_path, std::move(labels), labels_path, options.limit);
}

}  // namespace mp::data
