#include "workers/engine/data/dataset.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/data/convert.h"
#include "workers/engine/data/shuffle.h"

namespace mp::data {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

// The shape [n, dims[1:]...] of `t` (rank >= 1), valid because n <= t.dim(0).
Shape WithLeadingDim(const Tensor& t, int64_t n) {
  std::vector<int64_t> dims = t.shape().dims();
  dims[0] = n;
  return Shape(std::move(dims));
}

}  // namespace

absl::StatusOr<Dataset> Dataset::Make(Tensor samples, Tensor labels) {
  if (!samples.defined()) return absl::InvalidArgumentError("dataset samples are undefined");
  if (samples.rank() < 1) {
    return absl::InvalidArgumentError(
        StrCat("dataset samples must have rank >= 1 ([N, ...]), got ", samples.DebugString()));
  }
  if (labels.defined()) {
    if (labels.dtype() != DType::kInt64 || labels.rank() != 1 ||
        labels.shape().dim(0) != samples.shape().dim(0)) {
      return absl::InvalidArgumentError(
          StrCat("dataset labels must be int64[", samples.shape().dim(0), "] to match samples ",
                 samples.DebugString(), ", got ", labels.DebugString()));
    }
  }
  Dataset d;
  d.samples_ = std::move(samples);
  d.labels_ = std::move(labels);
  return d;
}

std::vector<int64_t> Dataset::sample_dims() const {
  if (!samples_.defined()) return {};
  const auto& dims = samples_.shape().dims();
  return std::vector<int64_t>(dims.begin() + 1, dims.end());
}

Batch Dataset::Slice(int64_t begin, int64_t end) const {
  MP_CHECK(0 <= begin && begin <= end && end <= size())
      << "slice [" << begin << ", " << end << ") of " << size() << " samples";
  Batch b;
  const int64_t n = end - begin;
  const size_t row_bytes = size() == 0 ? 0 : samples_.byte_size() / static_cast<size_t>(size());
  b.inputs = Tensor::View(samples_, samples_.dtype(), WithLeadingDim(samples_, n),
                          static_cast<size_t>(begin) * row_bytes);
  if (has_labels()) {
    b.labels = Tensor::View(labels_, DType::kInt64, Shape({n}),
                            static_cast<size_t>(begin) * sizeof(int64_t));
  }
  b.indices.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) b.indices[static_cast<size_t>(i)] = begin + i;
  return b;
}

absl::StatusOr<Batch> Dataset::Gather(std::span<const int64_t> indices) const {
  const auto n = static_cast<int64_t>(indices.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = indices[static_cast<size_t>(i)];
    if (row < 0 || row >= size()) {
      return absl::InvalidArgumentError(
          StrCat("gather: index ", row, " at position ", i, " is outside [0, ", size(), ")"));
    }
  }
  Batch b;
  ASSIGN_OR_RETURN(b.inputs, Tensor::Allocate(samples_.dtype(), WithLeadingDim(samples_, n)));
  const size_t row_bytes = size() == 0 ? 0 : samples_.byte_size() / static_cast<size_t>(size());
  const auto* src = static_cast<const uint8_t*>(samples_.raw_data());
  auto* dst = static_cast<uint8_t*>(b.inputs.mutable_raw_data());
  for (int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<size_t>(indices[static_cast<size_t>(i)]);
    if (row_bytes > 0)
      std::memcpy(dst + static_cast<size_t>(i) * row_bytes, src + row * row_bytes, row_bytes);
  }
  if (has_labels()) {
    ASSIGN_OR_RETURN(b.labels, Tensor::Allocate(DType::kInt64, Shape({n})));
    int64_t* out = b.labels.mutable_data<int64_t>();
    const int64_t* in = labels_.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) out[i] = in[indices[static_cast<size_t>(i)]];
  }
  b.indices.assign(indices.begin(), indices.end());
  return b;
}

absl::StatusOr<Dataset> Dataset::Take(int64_t n) const {
  if (n < 0) return absl::InvalidArgumentError(StrCat("take: negative count ", n));
  const Batch b = Slice(0, std::min(n, size()));
  return Make(b.inputs, b.labels);
}

absl::StatusOr<Dataset> Dataset::WithSampleShape(std::vector<int64_t> sample_dims) const {
  std::vector<int64_t> dims = {size()};
  dims.insert(dims.end(), sample_dims.begin(), sample_dims.end());
  auto shape = Shape::Make(dims);
  if (!shape.ok()) return Annotate(shape.status(), "reshape dataset samples");
  if (shape->num_elements() != samples_.num_elements()) {
    return absl::InvalidArgumentError(StrCat("cannot reshape dataset samples ",
                                             samples_.DebugString(), " to ", shape->ToString(),
                                             ": element counts differ"));
  }
  return Make(samples_.Reshaped(*std::move(shape)), labels_);
}

absl::StatusOr<Dataset> Dataset::ToFloat32(float divisor) const {
  ASSIGN_OR_RETURN(Tensor f, ConvertToFloat32(samples_, divisor));
  return Make(std::move(f), labels_);
}

absl::StatusOr<Batcher> Batcher::Make(Dataset dataset, BatchOptions options) {
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(StrCat("batch size must be >= 1, got ", options.batch_size));
  }
  Batcher b(std::move(dataset), options);
  b.StartEpoch(0);
  return b;
}

void Batcher::StartEpoch(uint64_t epoch) {
  epoch_ = epoch;
  if (options_.shuffle) order_ = ShuffledIndices(dataset_.size(), DeriveSeed(options_.seed, epoch));
}

int64_t Batcher::num_batches() const {
  const int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : n / b + (n % b != 0 ? 1 : 0);
}

absl::StatusOr<Batch> Batcher::GetBatch(int64_t i) const {
  MP_CHECK(0 <= i && i < num_batches()) << "batch " << i << " of " << num_batches();
  const int64_t begin = i * options_.batch_size;
  const int64_t end = std::min(begin + options_.batch_size, dataset_.size());
  if (!options_.shuffle) return dataset_.Slice(begin, end);
  return dataset_.Gather(std::span<const int64_t>(order_).subspan(
      static_cast<size_t>(begin), static_cast<size_t>(end - begin)));
}

}  // namespace mp::data
