#include "workers/engine/quant/diagnose.h"

#include <algorithm>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/quant/qparams.h"

namespace mp::quant {
namespace {

using tensor::DType;
using tensor::Tensor;

// Runs `session` over the dataset in order; `consume` gets each batch's outputs.
absl::Status ForEachBatch(
    exec::Session& session, const data::Dataset& dataset, int64_t batch_size,
    const std::function<absl::Status(const data::Batch&, const exec::NamedTensors&)>& consume) {
  if (session.inputs().size() != 1) {
    return absl::InvalidArgumentError(
        StrCat("the model has ", session.inputs().size(), " feedable inputs, expected 1"));
  }
  if (batch_size < 1) return absl::InvalidArgumentError("batch size must be >= 1");
  const std::string& input = session.inputs()[0].name;
  for (int64_t begin = 0; begin < dataset.size(); begin += batch_size) {
    data::Batch batch = dataset.Slice(begin, std::min(dataset.size(), begin + batch_size));
    ASSIGN_OR_RETURN(exec::NamedTensors outs, session.Run({{input, batch.inputs}}));
    RETURN_IF_ERROR(consume(batch, outs));
  }
  return absl::OkStatus();
}

absl::Status CheckOutput(const Tensor& out, int64_t rows) {
  if (out.dtype() != DType::kFloat32 || out.rank() < 1 || out.shape().dim(0) != rows) {
    return absl::InvalidArgumentError(
        StrCat("output 0 is ", out.DebugString(), ", expected float32 with ", rows, " rows"));
  }
  return absl::OkStatus();
}

// `model` with the named values appended as graph outputs (each once).
ir::Model WithOutputs(ir::Model model, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const ir::ValueId v = model.graph.FindValue(name);
    if (v.valid() && !model.graph.IsGraphOutput(v)) model.graph.AddGraphOutput(v);
  }
  return model;
}

const Tensor* FindOutput(const exec::NamedTensors& outs, const std::string& name) {
  for (const auto& [n, t] : outs) {
    if (n == name) return &t;
  }
  return nullptr;
}

}  // namespace

Reference Reference::Head(int64_t n) const {
  const size_t keep = static_cast<size_t>(std::clamp<int64_t>(n, 0, rows()));
  Reference head;
  head.per_row = per_row;
  head.outputs.assign(outputs.begin(),
                      outputs.begin() + static_cast<std::ptrdiff_t>(keep * size_t(per_row)));
  head.predictions.assign(predictions.begin(),
                          predictions.begin() + static_cast<std::ptrdiff_t>(keep));
  return head;
}

absl::StatusOr<Reference> ComputeReference(exec::Session& session, const data::Dataset& dataset,
                                           int64_t batch_size) {
  Reference ref;
  absl::Status status = ForEachBatch(
      session, dataset, batch_size,
      [&](const data::Batch& batch, const exec::NamedTensors& outs) -> absl::Status {
        const Tensor& out = outs[0].second;
        RETURN_IF_ERROR(CheckOutput(out, batch.size()));
        ref.per_row = out.num_elements() / std::max<int64_t>(1, batch.size());
        ref.outputs.insert(ref.outputs.end(), out.data<float>(),
                           out.data<float>() + out.num_elements());
        ASSIGN_OR_RETURN(std::vector<int64_t> pred, eval::ArgmaxLastAxis(out));
        if (static_cast<int64_t>(pred.size()) != batch.size()) {
          return absl::InvalidArgumentError(
              StrCat("output 0 ", out.DebugString(), " does not hold one score row per sample"));
        }
        ref.predictions.insert(ref.predictions.end(), pred.begin(), pred.end());
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return ref;
}

absl::StatusOr<Score> ScoreAgainst(exec::Session& session, const data::Dataset& dataset,
                                   const Reference& reference, int64_t batch_size) {
  if (dataset.size() != reference.rows()) {
    return absl::InvalidArgumentError(
        StrCat("dataset has ", dataset.size(), " rows, the reference ", reference.rows()));
  }
  Score score;
  ErrorStats err;
  int64_t row = 0, correct = 0, agree = 0;
  absl::Status status = ForEachBatch(
      session, dataset, batch_size,
      [&](const data::Batch& batch, const exec::NamedTensors& outs) -> absl::Status {
        const Tensor& out = outs[0].second;
        RETURN_IF_ERROR(CheckOutput(out, batch.size()));
        if (out.num_elements() != batch.size() * reference.per_row) {
          return absl::InvalidArgumentError(
              StrCat("output 0 ", out.DebugString(), " differs in size from the fp32 output"));
        }
        err.Add(std::span<const float>(reference.outputs)
                    .subspan(static_cast<size_t>(row * reference.per_row),
                             static_cast<size_t>(out.num_elements())),
                out.span<float>());
        ASSIGN_OR_RETURN(std::vector<int64_t> pred, eval::ArgmaxLastAxis(out));
        for (size_t i = 0; i < pred.size(); ++i) {
          agree += pred[i] == reference.predictions[static_cast<size_t>(row) + i];
          if (batch.labels.defined()) correct += pred[i] == batch.labels.data<int64_t>()[i];
        }
        score.predictions.insert(score.predictions.end(), pred.begin(), pred.end());
        row += batch.size();
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  const double n = double(std::max<int64_t>(1, row));
  score.agreement = double(agree) / n;
  if (dataset.has_labels()) score.accuracy = double(correct) / n;
  score.output_sqnr_db = err.sqnr_db();
  return score;
}

absl::StatusOr<std::vector<TensorError>> ActivationErrors(const ir::Model& fp32_model,
                                                          const QuantizeResult& quantized,
                                                          const data::Dataset& dataset,
                                                          int64_t batch_size, int num_threads) {
  std::vector<std::string> fp32_names, qdq_names;
  std::vector<TensorError> errors;
  for (const QuantizedTensor& t : quantized.tensors) {
    if (t.kind != QuantizedTensor::Kind::kActivation) continue;
    fp32_names.push_back(t.name);
    qdq_names.push_back(t.dequantized);
    errors.push_back({.name = t.name});
  }
  if (errors.empty()) return errors;
  ASSIGN_OR_RETURN(auto fp32, exec::Session::Create(WithOutputs(fp32_model, fp32_names),
                                                    {.num_threads = num_threads}));
  ASSIGN_OR_RETURN(auto qdq, exec::Session::Create(WithOutputs(quantized.model, qdq_names),
                                                   {.num_threads = num_threads}));
  std::vector<ErrorStats> stats(errors.size());
  const std::string& input = fp32->inputs()[0].name;
  for (int64_t begin = 0; begin < dataset.size(); begin += batch_size) {
    data::Batch batch = dataset.Slice(begin, std::min(dataset.size(), begin + batch_size));
    ASSIGN_OR_RETURN(exec::NamedTensors a, fp32->Run({{input, batch.inputs}}));
    ASSIGN_OR_RETURN(exec::NamedTensors b, qdq->Run({{input, batch.inputs}}));
    for (size_t i = 0; i < errors.size(); ++i) {
      const Tensor* ra = FindOutput(a, fp32_names[i]);
      const Tensor* rb = FindOutput(b, qdq_names[i]);
      if (ra == nullptr || rb == nullptr || ra->dtype() != DType::kFloat32 ||
          rb->dtype() != DType::kFloat32 || ra->num_elements() != rb->num_elements()) {
        return absl::InternalError(
            StrCat("activation '", fp32_names[i], "': fp32 and quantized values do not match up"));
      }
      stats[i].Add(ra->span<float>(), rb->span<float>());
    }
  }
  for (size_t i = 0; i < errors.size(); ++i) {
    errors[i].sqnr_db = stats[i].sqnr_db();
    errors[i].mse = stats[i].mse();
    errors[i].count = stats[i].count;
  }
  return errors;
}

absl::StatusOr<std::vector<LayerSensitivity>> LayerSensitivities(
    const ir::Model& fp32_model, const RangeMap& ranges, const data::Dataset& dataset,
    const Reference& reference, double fp32_metric, const SensitivityOptions& options) {
  std::vector<LayerSensitivity> out;
  const std::vector<Layer> layers = FindLayers(fp32_model, ranges);
  for (size_t i = 0; i < layers.size(); ++i) {
    QuantizerOptions q = options.quantizer;
    q.exclude.clear();
    q.only = absl::flat_hash_set<std::string>{layers[i].name};
    ASSIGN_OR_RETURN(QuantizeResult qr, QuantizeStatic(fp32_model, ranges, q));
    ASSIGN_OR_RETURN(auto session, exec::Session::Create(std::move(qr.model),
                                                         {.num_threads = options.num_threads}));
    auto score = ScoreAgainst(*session, dataset, reference, options.batch_size);
    if (!score.ok()) return Annotate(score.status(), StrCat("layer '", layers[i].name, "'"));
    LayerSensitivity s{.layer = layers[i].name, .op_type = layers[i].op_type, .score = *score};
    s.metric_drop = fp32_metric - score->metric();
    out.push_back(std::move(s));
    if (options.progress) RETURN_IF_ERROR(options.progress(double(i + 1) / double(layers.size())));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const LayerSensitivity& a, const LayerSensitivity& b) {
                     if (a.metric_drop != b.metric_drop) return a.metric_drop > b.metric_drop;
                     return a.score.output_sqnr_db < b.score.output_sqnr_db;
                   });
  return out;
}

}  // namespace mp::quant
