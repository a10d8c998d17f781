#include "client/watch.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "client/format.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

bool IsTerminal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED || state == v1::JOB_STATE_DEAD;
}

namespace {

std::string Percent(double progress) {
  const int pct = static_cast<int>(std::floor(std::clamp(progress, 0.0, 1.0) * 100.0));
  std::string s = mp::StrCat(pct, "%");
  return std::string(4 - std::min<size_t>(4, s.size()), ' ') + s;
}

std::string Eta(const v1::JobEvent& event, const char* label) {
  if (IsTerminal(event.state()) || event.eta_seconds() < 0) return "";
  return mp::StrCat("  ", label, " ", FormatDuration(event.eta_seconds()));
}

}  // namespace

std::string RenderProgressBar(const v1::JobEvent& event, int width) {
  std::string tail =
      mp::StrCat(" ", Percent(event.progress()), "  ",
                 event.step().empty() ? StateName(event.state()) : event.step(), Eta(event, "ETA"));
  const int bar = std::clamp(width - 1 - static_cast<int>(tail.size()) - 2, 10, 50);
  const int filled =
      static_cast<int>(std::floor(std::clamp(event.progress(), 0.0, 1.0) * bar + 1e-9));
  std::string line = "[" + std::string(filled, '#') + std::string(bar - filled, '.') + "]" + tail;
  if (width > 1 && static_cast<int>(line.size()) > width - 1) line.resize(width - 1);
  return line;
}

std::string RenderPlainLine(const v1::JobEvent& event) {
  std::string state = StateName(event.state());
  state.resize(std::max<size_t>(state.size(), 9), ' ');
  std::string line = mp::StrCat(state, " ", Percent(event.progress()));
  if (!event.step().empty()) line += mp::StrCat("  ", event.step());
  line += Eta(event, "eta");
  if (!event.log().empty()) line += mp::StrCat("  ", event.log());
  return line;
}

bool PlainLineFilter::ShouldPrint(const v1::JobEvent& event) {
  const int decile =
      static_cast<int>(std::floor(std::clamp(event.progress(), 0.0, 1.0) * 10.0 + 1e-9));
  const bool print = !state_ || *state_ != event.state() || step_ != event.step() ||
                     !event.log().empty() || decile > decile_;
  state_ = event.state();
  step_ = event.step();
  decile_ = std::max(decile_, decile);
  return print;
}

absl::StatusOr<v1::Job> FollowJob(Connection& conn, const std::string& job_id,
                                  const std::function<void(const v1::JobEvent&)>& on_event) {
  int64_t after = 0;
  int failures = 0;
  while (true) {
    v1::WatchJobRequest request;
    request.set_id(job_id);
    request.set_after_sequence(after);
    auto context = conn.Context(/*timeout_ms=*/0);
    auto reader = conn.jobs().WatchJob(context.get(), request);
    v1::JobEvent event;
    bool terminal = false;
    while (reader->Read(&event)) {
      failures = 0;
      after = std::max(after, event.sequence());
      on_event(event);
      if (IsTerminal(event.state())) terminal = true;
    }
    const grpc::Status status = reader->Finish();
    if (terminal || status.ok()) break;  // a stream that ends OK ends at the terminal event
    const absl::Status s = FromGrpc(status, mp::StrCat("watch job ", job_id));
    if ((s.code() != absl::StatusCode::kUnavailable &&
         s.code() != absl::StatusCode::kDeadlineExceeded) ||
        ++failures > 5) {
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 << failures));
  }
  v1::GetJobRequest get;
  get.set_id(job_id);
  v1::Job job;
  auto context = conn.Context();
  RETURN_IF_ERROR(
      FromGrpc(conn.jobs().GetJob(context.get(), get, &job), mp::StrCat("get job ", job_id)));
  return job;
}

namespace {

// Metrics named <base>_<variant> (fp32, int8, fp16, bf16, quantized) whose base has at least
// two variants become one comparison row ("accuracy  0.8673  0.8669"); the others are listed
// one per row, in the job's order.
void PrintMetrics(const v1::Job& job, std::ostream& out) {
  static const char* kVariants[] = {"fp32", "int8", "fp16", "bf16", "quantized"};
  struct Split {
    std::string base, variant;
  };
  auto split = [](const std::string& name) -> std::optional<Split> {
    for (const char* variant : kVariants) {
      const std::string suffix = mp::StrCat("_", variant);
      if (name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return Split{name.substr(0, name.size() - suffix.size()), variant};
      }
    }
    return std::nullopt;
  };
  std::map<std::string, std::map<std::string, double>> by_base;
  for (const auto& m : job.metrics()) {
    if (auto s = split(m.name())) by_base[s->base][s->variant] = m.value();
  }
  std::vector<std::string> bases;
  std::set<std::string> used;
  std::vector<const v1::Metric*> single;
  for (const auto& m : job.metrics()) {
    auto s = split(m.name());
    if (!s || by_base[s->base].size() < 2) {
      single.push_back(&m);
      continue;
    }
    if (std::find(bases.begin(), bases.end(), s->base) == bases.end()) bases.push_back(s->base);
    used.insert(s->variant);
  }
  if (!bases.empty()) {
    std::vector<std::string> header = {"metric"};
    for (const char* variant : kVariants) {
      if (used.count(variant)) header.push_back(variant);
    }
    std::vector<std::vector<std::string>> rows = {header};
    for (const std::string& base : bases) {
      std::vector<std::string> row = {base};
      for (size_t i = 1; i < header.size(); ++i) {
        auto it = by_base[base].find(header[i]);
        row.push_back(it == by_base[base].end() ? "-" : FormatNumber(it->second));
      }
      rows.push_back(row);
    }
    PrintTable(rows, out);
  }
  if (!single.empty()) {
    std::vector<std::vector<std::string>> rows = {{"metric", "value"}};
    for (const v1::Metric* m : single) rows.push_back({m->name(), FormatNumber(m->value())});
    PrintTable(rows, out);
  }
}

}  // namespace

void PrintJobSummary(const v1::Job& job, std::ostream& out) {
  out << "job " << job.id() << " (" << KindName(job.spec().kind())
      << "): " << StateName(job.state()) << "\n";
  if (!job.error().empty()) out << "error: " << job.error() << "\n";
  PrintMetrics(job, out);
  for (const auto& a : job.artifacts()) {
    out << "artifact " << a.name() << ": " << FormatBytes(a.blob().size_bytes()) << " sha256 "
        << a.blob().sha256() << "\n";
  }
}

}  // namespace mp::client
