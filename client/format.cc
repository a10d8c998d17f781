#include "client/format.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "absl/strings/ascii.h"
#include "common/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

namespace {

std::string Lower(std::string s, std::string_view prefix) {
  if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
  return absl::AsciiStrToLower(s);
}

}  // namespace

std::string StateName(v1::JobState state) { return Lower(v1::JobState_Name(state), "JOB_STATE_"); }
std::string KindName(v1::JobKind kind) { return Lower(v1::JobKind_Name(kind), "JOB_KIND_"); }

absl::StatusOr<v1::JobState> ParseState(const std::string& text) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (upper.rfind("JOB_STATE_", 0) != 0) upper = "JOB_STATE_" + upper;
  v1::JobState state;
  if (!v1::JobState_Parse(upper, &state) || state == v1::JOB_STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(mp::StrCat(
        "--state '", text, "': expected queued, running, succeeded, failed, cancelled or dead"));
  }
  return state;
}

absl::StatusOr<v1::JobKind> ParseKind(const std::string& text) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (upper.rfind("JOB_KIND_", 0) != 0) upper = "JOB_KIND_" + upper;
  v1::JobKind kind;
  if (!v1::JobKind_Parse(upper, &kind) || kind == v1::JOB_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(mp::StrCat(
        "--kind '", text, "': expected inspect, ptq, prune, distill, search or compose"));
  }
  return kind;
}

std::string FormatBytes(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%lld B", static_cast<long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatDuration(double seconds) {
  if (seconds < 0 || !std::isfinite(seconds)) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

std::string FormatNumber(double value) {
  char buf[64];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(value));
  } else {
    std::snprintf(buf, sizeof(buf), "%.4g", value);
  }
  return buf;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void PrintJson(const google::protobuf::Message& message, std::ostream& out) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) json = "{}";  // only for messages with invalid UTF-8 strings
  out << json << "\n";
}

}  // namespace mp::client
