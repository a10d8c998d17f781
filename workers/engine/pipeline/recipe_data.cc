#include "workers/engine/pipeline/recipe_data.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/data/data.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::pipeline {
namespace {

using tensor::DType;
using tensor::Tensor;

absl::StatusOr<Tensor> ReadSamples(const std::string& path) {
  if (path.ends_with(".npy")) {
    return data::ReadNpy(path, {.max_bytes = int64_t{1} << 32, .float64_to_float32 = true});
  }
  if (path.ends_with(".pb")) {
    ASSIGN_OR_RETURN(onnx::NamedTensor t, onnx::ReadTensorFile(path));
    return t.tensor;
  }
  ASSIGN_OR_RETURN(Tensor t, data::ReadIdx(path));
  if (t.rank() == 3)
    t = t.Reshaped(tensor::Shape({t.shape().dim(0), 1, t.shape().dim(1), t.shape().dim(2)}));
  return t;
}

absl::StatusOr<Tensor> ReadLabels(const std::string& path) {
  if (path.ends_with(".npy")) {
    ASSIGN_OR_RETURN(Tensor t, data::ReadNpy(path));
    return data::ConvertLabelsToInt64(t, path);
  }
  ASSIGN_OR_RETURN(Tensor t, data::ReadIdx(path));
  return data::ConvertLabelsToInt64(t, path);
}

}  // namespace

absl::StatusOr<data::Dataset> LoadSamples(const std::filesystem::path& path,
                                          const std::filesystem::path& labels_path, int64_t limit,
                                          const exec::Session& session, std::string_view what) {
  auto loaded = ReadSamples(path.string());
  if (!loaded.ok()) return Annotate(loaded.status(), what);
  Tensor raw = *std::move(loaded);
  if (raw.rank() < 1 || raw.shape().dim(0) == 0) {
    return absl::InvalidArgumentError(
        StrCat(what, ": no samples (shape ", raw.shape().ToString(), ")"));
  }
  if (raw.dtype() == DType::kBool) {
    return absl::InvalidArgumentError(StrCat(what, ": samples are bool, expected numbers"));
  }
  Tensor labels;
  if (!labels_path.empty()) {
    auto read = ReadLabels(labels_path.string());
    if (!read.ok()) return Annotate(read.status(), StrCat("labels '", labels_path.string(), "'"));
    labels = *std::move(read);
    if (labels.rank() != 1 || labels.shape().dim(0) != raw.shape().dim(0)) {
      return absl::InvalidArgumentError(
          StrCat("labels '", labels_path.string(), "' have shape ", labels.shape().ToString(),
                 ", expected [", raw.shape().dim(0), "] (one per sample of ", what, ")"));
    }
  }
  ASSIGN_OR_RETURN(data::Dataset ds, data::Dataset::Make(raw, labels));
  if (limit > 0) {
    ASSIGN_OR_RETURN(ds, ds.Take(limit));
  }
  if (ds.samples().dtype() != DType::kFloat32) {
    const float divisor = ds.samples().dtype() == DType::kUint8 ? 255.0f : 1.0f;
    ASSIGN_OR_RETURN(ds, ds.ToFloat32(divisor));
  }
  const std::span<const float> values = ds.samples().span<float>();
  const int64_t per_sample = ds.size() == 0 ? 0 : ds.samples().num_elements() / ds.size();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          StrCat(what, ": sample ", int64_t(i) / per_sample, " has NaN or Inf values"));
    }
  }
  if (session.inputs().size() != 1) {
    return absl::InvalidArgumentError(StrCat("the model has ", session.inputs().size(),
                                             " feedable inputs; PTQ supports exactly one"));
  }
  const exec::IoInfo& input = session.inputs()[0];
  if (!input.shape.has_rank()) return ds;
  std::vector<int64_t> want;
  for (int i = 1; i < input.shape.rank(); ++i) {
    want.push_back(input.shape.dims()[static_cast<size_t>(i)].size);  // -1 when unknown
  }
  const std::vector<int64_t> have = ds.sample_dims();
  bool matches = want.size() == have.size();
  for (size_t i = 0; matches && i < want.size(); ++i) matches = want[i] < 0 || want[i] == have[i];
  if (matches) return ds;
  bool all_known = true;
  int64_t want_count = 1, have_count = 1;
  for (int64_t d : want) {
    all_known &= d >= 0;
    want_count *= std::max<int64_t>(d, 0);
  }
  for (int64_t d : have) have_count *= d;
  if (all_known && want_count == have_count) return ds.WithSampleShape(want);
  return absl::InvalidArgumentError(
      StrCat(what, ": samples have shape ", tensor::Shape(have).ToString(), ", model input '",
             input.name, "' expects ", input.shape.ToString(), " per batch"));
}

absl::StatusOr<std::pair<data::Dataset, data::Dataset>> SplitHoldout(const data::Dataset& ds,
                                                                     double fraction) {
  if (!(fraction >= 0 && fraction < 1)) {
    return absl::InvalidArgumentError(StrCat("holdout: ", fraction, " is outside [0, 1)"));
  }
  const int64_t n = ds.size();
  const int64_t held = static_cast<int64_t>(std::llround(fraction * double(n)));
  if (held <= 0 || held >= n) return std::make_pair(ds, data::Dataset());
  auto rows = [&](int64_t begin, int64_t end) {
    data::Batch b = ds.Slice(begin, end);
    return data::Dataset::Make(b.inputs, b.labels);
  };
  ASSIGN_OR_RETURN(data::Dataset first, rows(0, n - held));
  ASSIGN_OR_RETURN(data::Dataset last, rows(n - held, n));
  return std::make_pair(std::move(first), std::move(last));
}

absl::StatusOr<TrainEval> LoadTrainEval(const exec::Session& session,
                                        const std::filesystem::path& data,
                                        const std::filesystem::path& labels, int64_t limit,
                                        const std::filesystem::path& eval_data,
                                        const std::filesystem::path& eval_labels, double holdout) {
  TrainEval out;
  if (!data.empty()) {
    ASSIGN_OR_RETURN(
        out.train, LoadSamples(data, labels, limit, session, StrCat("data '", data.string(), "'")));
  }
  if (!eval_data.empty()) {
    ASSIGN_OR_RETURN(out.eval, LoadSamples(eval_data, eval_labels, 0, session,
                                           StrCat("eval data '", eval_data.string(), "'")));
  } else if (out.train.has_value() && holdout > 0) {
    ASSIGN_OR_RETURN(auto split, SplitHoldout(*out.train, holdout));
    if (split.second.size() > 0) {
      out.train = std::move(split.first);
      out.eval = std::move(split.second);
    }
  }
  return out;
}

}  // namespace mp::pipeline
