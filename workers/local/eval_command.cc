#include "workers/local/eval_command.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "common/clock.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/data.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::local {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

absl::StatusOr<data::Dataset> LoadData(const EvalCommandOptions& o) {
  if (EndsWith(o.data_path, ".npy")) {
    ASSIGN_OR_RETURN(data::Dataset ds,
                     data::LoadNpyDataset(o.data_path, o.labels_path, {.limit = o.limit}));
    if (ds.samples().dtype() == tensor::DType::kFloat32) return ds;
    const float divisor = ds.samples().dtype() == tensor::DType::kUint8 ? 255.0f : 1.0f;
    return ds.ToFloat32(divisor);
  }
  return data::LoadIdxDataset(o.data_path, o.labels_path, {.limit = o.limit});
}

// Reshapes samples to the model input's static sample dims when only the layout differs.
absl::StatusOr<data::Dataset> FitToModel(data::Dataset ds, const exec::Session& session) {
  if (session.inputs().size() != 1) return ds;
  const ir::PartialShape& declared = session.inputs()[0].shape;
  if (!declared.has_rank() || declared.rank() < 1) return ds;
  std::vector<int64_t> dims;
  for (int i = 1; i < declared.rank(); ++i) {
    if (!declared.dims()[static_cast<size_t>(i)].known()) return ds;
    dims.push_back(declared.dims()[static_cast<size_t>(i)].size);
  }
  if (dims == ds.sample_dims()) return ds;
  auto count = tensor::CheckedNumElements(dims);
  auto have = tensor::CheckedNumElements(ds.sample_dims());
  if (!count.ok() || !have.ok() || *count != *have) return ds;  // Run reports the mismatch
  return ds.WithSampleShape(dims);
}

// A batch of exactly `b` samples: the first b rows, cycling when the data is shorter.
absl::StatusOr<tensor::Tensor> LatencyBatch(const data::Dataset& ds, int64_t b) {
  std::vector<int64_t> rows(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) rows[static_cast<size_t>(i)] = i % ds.size();
  ASSIGN_OR_RETURN(data::Batch batch, ds.Gather(rows));
  return batch.inputs;
}

int64_t ParameterCount(const ir::Model& model) {
  int64_t total = 0;
  for (const ir::Value& v : model.graph.values()) {
    if (v.is_constant()) total += v.initializer().num_elements();
  }
  return total;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

}  // namespace

absl::Status EvalModelCommand(const EvalCommandOptions& o, std::ostream& out) {
  if (o.batch_size < 1) return absl::InvalidArgumentError("--batch-size must be >= 1");
  if (o.iterations < 1) return absl::InvalidArgumentError("--iterations must be >= 1");
  for (int64_t b : o.latency_batches) {
    if (b < 1) return absl::InvalidArgumentError(StrCat("--latency-batch must be >= 1, got ", b));
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(o.model_path));
  auto imported = onnx::ImportModel(bytes);
  if (!imported.ok()) return Annotate(imported.status(), StrCat("model '", o.model_path, "'"));
  const int64_t params = ParameterCount(*imported);
  const int nodes = imported->graph.num_nodes();
  auto created = exec::Session::Create(*std::move(imported), {.num_threads = o.threads});
  if (!created.ok()) return Annotate(created.status(), StrCat("model '", o.model_path, "'"));
  exec::Session& session = **created;

  ASSIGN_OR_RETURN(data::Dataset loaded, LoadData(o));
  if (loaded.size() == 0) {
    return absl::InvalidArgumentError(StrCat("data '", o.data_path, "' has no samples"));
  }
  ASSIGN_OR_RETURN(data::Dataset ds, FitToModel(std::move(loaded), session));

  nlohmann::json report = {{"model", o.model_path}, {"model_bytes", bytes.size()},
                           {"parameters", params},  {"nodes", nodes},
                           {"threads", o.threads},  {"samples", ds.size()}};
  if (ds.has_labels()) {
    auto top1 = eval::EvaluateTop1(session, ds, o.batch_size);
    if (!top1.ok()) return Annotate(top1.status(), StrCat("evaluate on '", o.data_path, "'"));
    report["top1_accuracy"] = top1->accuracy();
    report["correct"] = top1->correct;
  }
  nlohmann::json latency = nlohmann::json::array();
  for (int64_t b : o.latency_batches) {
    ASSIGN_OR_RETURN(tensor::Tensor batch, LatencyBatch(ds, b));
    ASSIGN_OR_RETURN(eval::LatencyStats stats,
                     eval::MeasureLatency(session, batch, {.warmup = 3, .iterations = o.iterations},
                                          SystemClock::Get()));
    latency.push_back({{"batch", b},
                       {"mean_ms", stats.mean_ms},
                       {"p50_ms", stats.p50_ms},
                       {"p99_ms", stats.p99_ms},
                       {"samples_per_second", stats.samples_per_second}});
  }
  report["latency"] = latency;

  if (o.json) {
    out << report.dump(2) << "\n";
    return absl::OkStatus();
  }
  out << "model       " << o.model_path << "\n"
      << "size        " << Fixed(static_cast<double>(bytes.size()) / 1024.0, 1) << " KiB, "
      << params << " parameters, " << nodes << " nodes\n"
      << "threads     " << o.threads << "\n";
  if (report.contains("top1_accuracy")) {
    out << "top-1       " << Fixed(100.0 * report["top1_accuracy"].get<double>(), 2) << "% ("
        << report["correct"].get<int64_t>() << " of " << ds.size() << " samples)\n";
  } else {
    out << "top-1       n/a (no labels)\n";
  }
  for (const auto& row : latency) {
    out << "latency     batch " << row["batch"].get<int64_t>() << ": mean "
        << Fixed(row["mean_ms"].get<double>(), 3) << " ms, p99 "
        << Fixed(row["p99_ms"].get<double>(), 3) << " ms, "
        << Fixed(row["samples_per_second"].get<double>(), 0) << " samples/s\n";
  }
  return absl::OkStatus();
}

}  // namespace mp::local
