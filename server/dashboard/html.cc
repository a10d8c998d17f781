#include "server/dashboard/html.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "common/str_cat.h"

namespace mp::dashboard::html {
namespace {

constexpr std::string_view kStyle = R"css(
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:.6em 1.2em}
header a{color:#fff;margin-right:1.2em;text-decoration:none}
main{padding:1em 1.2em}
table{border-collapse:collapse;background:#fff;margin:.5em 0 1.2em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;font-size:.9em;vertical-align:top}
th{background:#eceff1}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{padding:.1em .5em;border-radius:.8em;font-size:.85em;color:#fff;background:#78909c}
.state-queued{background:#8d6e63}.state-running{background:#1e88e5}
.state-succeeded{background:#43a047}.state-failed{background:#e53935}
.state-dead{background:#6d1b1b}.state-cancelled{background:#9e9e9e}
.bar{display:inline-block;width:8em;height:.8em;background:#e0e0e0;border-radius:.4em;
 vertical-align:middle;overflow:hidden}
.bar>span{display:block;height:100%;background:#1e88e5}
pre{background:#fff;border:1px solid #ddd;padding:.5em;overflow:auto;max-height:30em}
.error{color:#b71c1c}
td.log{white-space:pre-wrap;font-family:monospace}
form.filters{margin:.5em 0}
)css";

}  // namespace

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Page(std::string_view title, std::string_view body, int refresh_seconds) {
  std::string out = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  if (refresh_seconds > 0) {
    out += StrCat("<meta http-equiv=\"refresh\" content=\"", refresh_seconds, "\">");
  }
  out += StrCat("<title>", Escape(title), " - modelpress</title><style>", kStyle,
                "</style></head><body><header><a href=\"/\"><b>modelpress</b></a>",
                "<a href=\"/\">Jobs</a><a href=\"/models\">Models</a>",
                "<a href=\"/metrics\">Metrics</a></header><main><h1>", Escape(title), "</h1>", body,
                "</main></body></html>\n");
  return out;
}

std::string StateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  constexpr std::string_view kPrefix = "JOB_STATE_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  if (name.empty()) name = StrCat("state_", static_cast<int>(state));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

std::string KindName(v1::JobKind kind) {
  std::string name = v1::JobKind_Name(kind);
  constexpr std::string_view kPrefix = "JOB_KIND_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  if (name.empty()) name = StrCat("kind_", static_cast<int>(kind));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

}  // namespace

bool ParseState(std::string_view name, v1::JobState* state) {
  std::string upper = Upper(name);
  if (upper.rfind("JOB_STATE_", 0) != 0) upper = "JOB_STATE_" + upper;
  return upper != "JOB_STATE_UNSPECIFIED" && v1::JobState_Parse(upper, state);
}

bool ParseKind(std::string_view name, v1::JobKind* kind) {
  std::string upper = Upper(name);
  if (upper.rfind("JOB_KIND_", 0) != 0) upper = "JOB_KIND_" + upper;
  return upper != "JOB_KIND_UNSPECIFIED" && v1::JobKind_Parse(upper, kind);
}

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "-";
  char buf[48];
  if (seconds < 1) {
    std::snprintf(buf, sizeof(buf), "%.0f ms", seconds * 1000);
  } else if (seconds < 60) {
    std::snprintf(buf, sizeof(buf), "%.1f s", seconds);
  } else if (seconds < 3600) {
    const int64_t s = static_cast<int64_t>(seconds);
    std::snprintf(buf, sizeof(buf), "%lldm %02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    const int64_t m = static_cast<int64_t>(seconds / 60);
    std::snprintf(buf, sizeof(buf), "%lldh %02lldm", static_cast<long long>(m / 60),
                  static_cast<long long>(m % 60));
  }
  return buf;
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return StrCat(bytes, " B");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", value, kUnits[unit]);
  return buf;
}

std::string FormatNumber(double value) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", value);
  return buf;
}

std::string StateBadge(v1::JobState state) {
  const std::string name = StateName(state);
  return StrCat("<span class=\"state state-", name, "\">", name, "</span>");
}

std::string ProgressBar(double fraction) {
  if (!(fraction >= 0)) fraction = 0;
  fraction = std::min(fraction, 1.0);
  const int percent = static_cast<int>(std::lround(fraction * 100));
  return StrCat("<span class=\"bar\"><span style=\"width:", percent, "%\"></span></span> ", percent,
                "%");
}

}  // namespace mp::dashboard::html
