// Dataset: N samples stacked in one tensor [N, ...] with optional int64 labels [N], and the
// Batcher that cuts it into (optionally shuffled) batches.
//
// Tensors are shared, not copied: slicing contiguous rows returns views of the dataset's
// buffers; gathering rows (shuffled batches) copies them into fresh tensors. A Dataset is
// immutable after Make, so it may be read from several threads at once.
//
// Batching: batch i of an epoch holds rows order[i*B .. min((i+1)*B, N)) where order is the
// identity, or with shuffling ShuffledIndices(N, DeriveSeed(seed, epoch)) (shuffle.h:
// SplitMix64 + Fisher–Yates, identical on every platform). There are ceil(N / B) batches, the
// last one partial, or floor(N / B) with drop_last.
#ifndef MP_WORKERS_ENGINE_DATA_DATASET_H_
#define MP_WORKERS_ENGINE_DATA_DATASET_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::data {

// Rows of a dataset. `labels` is undefined when the dataset has none.
struct Batch {
  tensor::Tensor inputs;         // [B, sample dims...]
  tensor::Tensor labels;         // int64 [B] or undefined
  std::vector<int64_t> indices;  // the dataset row of each batch row
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

class Dataset {
 public:
  Dataset() = default;  // no samples; use Make

  // `samples` has rank >= 1 (dim 0 = N); `labels`, if defined, is int64 [N].
  // INVALID_ARGUMENT otherwise (message gives both shapes).
  static absl::StatusOr<Dataset> Make(tensor::Tensor samples, tensor::Tensor labels = {});

  int64_t size() const { return samples_.defined() ? samples_.shape().dim(0) : 0; }
  const tensor::Tensor& samples() const { return samples_; }
  const tensor::Tensor& labels() const { return labels_; }
  bool has_labels() const { return labels_.defined(); }
  // The shape of one sample: samples' dims without dim 0.
  std::vector<int64_t> sample_dims() const;

  // Rows [begin, end) as views of this dataset's buffers (no copy).
  // MP_CHECKs 0 <= begin <= end <= size(): callers derive ranges from size().
  Batch Slice(int64_t begin, int64_t end) const;
  // Rows `indices` (any order, repeats allowed) copied into fresh tensors.
  // INVALID_ARGUMENT if an index is outside [0, size()).
  absl::StatusOr<Batch> Gather(std::span<const int64_t> indices) const;

  // The first min(n, size()) samples (views). INVALID_ARGUMENT if n < 0.
  absl::StatusOr<Dataset> Take(int64_t n) const;
  // Each sample reshaped to `sample_dims` (same element count), e.g. [N, 28, 28] with
  // {1, 28, 28} gives [N, 1, 28, 28]. Shares the buffer. INVALID_ARGUMENT on a count mismatch.
  absl::StatusOr<Dataset> WithSampleShape(std::vector<int64_t> sample_dims) const;
  // Samples converted to float32 as x / divisor (convert.h); labels kept. For uint8 images
  // use divisor 255 to get [0, 1].
  absl::StatusOr<Dataset> ToFloat32(float divisor = 1.0f) const;

 private:
  tensor::Tensor samples_;
  tensor::Tensor labels_;
};

struct BatchOptions {
  int64_t batch_size = 32;  // >= 1
  bool drop_last = false;   // drop a final partial batch
  bool shuffle = false;
  uint64_t seed = 0;  // used only when shuffle is set
};

class Batcher {
 public:
  // INVALID_ARGUMENT if batch_size < 1. Starts at epoch 0.
  static absl::StatusOr<Batcher> Make(Dataset dataset, BatchOptions options);

  // Selects the row order of `epoch` (see the header comment). Cheap without shuffling;
  // O(N) with it.
  void StartEpoch(uint64_t epoch);
  uint64_t epoch() const { return epoch_; }

  int64_t num_batches() const;
  // Batch i in [0, num_batches()) of the current epoch (MP_CHECKed). Unshuffled batches are
  // views; shuffled ones are copies (RESOURCE_EXHAUSTED if that allocation fails).
  absl::StatusOr<Batch> GetBatch(int64_t i) const;

  const Dataset& dataset() const { return dataset_; }
  const BatchOptions& options() const { return options_; }

 private:
  Batcher(Dataset dataset, BatchOptions options)
      : dataset_(std::move(dataset)), options_(options) {}

  Dataset dataset_;
  BatchOptions options_;
  uint64_t epoch_ = 0;
  std::vector<int64_t> order_;  // empty when not shuffling
};

}  // namespace mp::data

#endif  // MP_WORKERS_ENGINE_DATA_DATASET_H_
