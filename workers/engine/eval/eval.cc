#include "workers/engine/eval/eval.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::eval {
namespace {

// The name of the session's single feedable input.
absl::StatusOr<std::string> SoleInputName(const exec::Session& session) {
  if (session.inputs().size() != 1) {
    return absl::InvalidArgumentError(
        StrCat("the model has ", session.inputs().size(),
               " feedable inputs; evaluation feeds exactly one (the dataset's samples)"));
  }
  if (session.outputs().empty()) {
    return absl::InvalidArgumentError("the model has no outputs");
  }
  return session.inputs()[0].name;
}

absl::StatusOr<tensor::Tensor> RunOne(exec::Session& session, const std::string& input,
                                      const tensor::Tensor& batch) {
  ASSIGN_OR_RETURN(exec::NamedTensors outs, session.Run({{input, batch}}));
  if (outs.empty()) return absl::InternalError("the session returned no outputs");
  return std::move(outs[0].second);
}

// Nearest-rank percentile of sorted values, p in (0, 100].
double Percentile(const std::vector<double>& sorted, double p) {
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = static_cast<size_t>(std::max(1.0, rank)) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> ArgmaxLastAxis(const tensor::Tensor& scores) {
  if (scores.dtype() != tensor::DType::kFloat32) {
    return absl::InvalidArgumentError(
        StrCat("scores must be float32 to take an argmax, got ", scores.DebugString()));
  }
  if (scores.rank() < 1 || scores.shape().dim(scores.rank() - 1) < 1) {
    return absl::InvalidArgumentError(
        StrCat("scores need a non-empty last axis of classes, got ", scores.DebugString()));
  }
  const int64_t classes = scores.shape().dim(scores.rank() - 1);
  const int64_t rows = scores.num_elements() / classes;
  const float* data = scores.data<float>();
  std::vector<int64_t> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = data + r * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c) {
      // `!(row[c] <= row[best])` would let NaN win; compare so NaN never does.
      if (row[c] > row[best] || (std::isnan(row[best]) && !std::isnan(row[c]))) best = c;
    }
    out[static_cast<size_t>(r)] = best;
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> PredictTop1(exec::Session& session,
                                                 const data::Dataset& dataset, int64_t batch_size) {
  if (batch_size < 1) {
    return absl::InvalidArgumentError(StrCat("batch size must be >= 1, got ", batch_size));
  }
  ASSIGN_OR_RETURN(std::string input, SoleInputName(session));
  std::vector<int64_t> predictions;
  predictions.reserve(static_cast<size_t>(dataset.size()));
  for (int64_t begin = 0; begin < dataset.size(); begin += batch_size) {
    const int64_t end = std::min(dataset.size(), begin + batch_size);
    data::Batch batch = dataset.Slice(begin, end);
    ASSIGN_OR_RETURN(tensor::Tensor scores, RunOne(session, input, batch.inputs));
    ASSIGN_OR_RETURN(std::vector<int64_t> rows, ArgmaxLastAxis(scores));
    if (static_cast<int64_t>(rows.size()) != end - begin) {
      return absl::InvalidArgumentError(
          StrCat("output '", session.outputs()[0].name, "' has ", rows.size(),
                 " rows of scores for a batch of ", end - begin,
                 " samples; expected one row per sample (", scores.DebugString(), ")"));
    }
    predictions.insert(predictions.end(), rows.begin(), rows.end());
  }
  return predictions;
}

absl::StatusOr<Top1Result> EvaluateTop1(exec::Session& session, const data::Dataset& dataset,
                                        int64_t batch_size) {
  if (!dataset.has_labels()) {
    return absl::InvalidArgumentError("top-1 accuracy needs labels; the dataset has none");
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> predictions, PredictTop1(session, dataset, batch_size));
  const int64_t* labels = dataset.labels().data<int64_t>();
  Top1Result result;
  result.samples = static_cast<int64_t>(predictions.size());
  for (size_t i = 0; i < predictions.size(); ++i) {
    if (predictions[i] == labels[i]) ++result.correct;
  }
  return result;
}

absl::StatusOr<double> Agreement(std::span<const int64_t> a, std::span<const int64_t> b) {
  if (a.size() != b.size() || a.empty()) {
    return absl::InvalidArgumentError(
        StrCat("agreement needs two equal, non-empty prediction lists, got ", a.size(), " and ",
               b.size()));
  }
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i] ? 1 : 0;
  return static_cast<double>(same) / static_cast<double>(a.size());
}

absl::StatusOr<LatencyStats> MeasureLatency(exec::Session& session, const tensor::Tensor& batch,
                                            const LatencyOptions& options, Clock* clock) {
  if (options.warmup < 0 || options.iterations < 1) {
    return absl::InvalidArgumentError(StrCat("latency needs warmup >= 0 and iterations >= 1, got ",
                                             options.warmup, " and ", options.iterations));
  }
  if (batch.rank() < 1) {
    return absl::InvalidArgumentError(
        StrCat("latency batch must have a batch axis, got ", batch.DebugString()));
  }
  ASSIGN_OR_RETURN(std::string input, SoleInputName(session));
  for (int i = 0; i < options.warmup; ++i) {
    RETURN_IF_ERROR(RunOne(session, input, batch).status());
  }
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(options.iterations));
  for (int i = 0; i < options.iterations; ++i) {
    const int64_t start = clock->MonotonicNanos();
    RETURN_IF_ERROR(RunOne(session, input, batch).status());
    ms.push_back(static_cast<double>(clock->MonotonicNanos() - start) / 1e6);
  }
  LatencyStats stats;
  stats.batch_size = batch.shape().dim(0);
  stats.iterations = options.iterations;
  double sum = 0;
  for (double v : ms) sum += v;
  stats.mean_ms = sum / static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  stats.min_ms = ms.front();
  stats.p50_ms = Percentile(ms, 50);
  stats.p90_ms = Percentile(ms, 90);
  stats.p99_ms = Percentile(ms, 99);
  stats.samples_per_second =
      stats.mean_ms > 0 ? static_cast<double>(stats.batch_size) * 1000.0 / stats.mean_ms : 0;
  return stats;
}

}  // namespace mp::eval
