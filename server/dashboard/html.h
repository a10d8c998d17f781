// HTML building blocks for the dashboard pages: escaping, the page shell, and formatting of
// job fields. Pages are plain server-side HTML (no scripts): every string that comes from
// a user or a worker (names, ids, steps, logs, errors, metric names, report fields) passes
// through Escape() before it reaches the page, and every URL built from such a string
// percent-encodes it (UrlEncode) and is then escaped as an attribute.
#ifndef MP_SERVER_DASHBOARD_HTML_H_
#define MP_SERVER_DASHBOARD_HTML_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "modelpress/v1/common.pb.h"

namespace mp::dashboard::html {

namespace v1 = ::modelpress::v1;

// Escapes & < > " ' for use in text and double- or single-quoted attribute values.
std::string Escape(std::string_view s);

// A complete page: <!doctype html>, title, style, navigation, then `body` (already HTML).
// refresh_seconds > 0 adds <meta http-equiv="refresh">.
std::string Page(std::string_view title, std::string_view body, int refresh_seconds = 0);

// "queued", "running", ... (lowercase, without the JOB_STATE_ prefix); "unspecified".
std::string StateName(v1::JobState state);
// "inspect", "ptq", ...; "unspecified".
std::string KindName(v1::JobKind kind);
// Parses a state / kind name as written by StateName / KindName, case-insensitive, also
// accepting the full enum name. False if unknown.
bool ParseState(std::string_view name, v1::JobState* state);
bool ParseKind(std::string_view name, v1::JobKind* kind);

// "2024-05-01 12:34:56Z" (UTC), or "-" for 0.
std::string FormatTime(int64_t unix_ms);
// "850 ms", "12.3 s", "4m 05s", "2h 03m"; "-" for negative.
std::string FormatDuration(double seconds);
// "512 B", "1.5 KiB", "3.2 MiB", ...
std::string FormatBytes(int64_t bytes);
// Shortest round-trip form, at most 6 significant digits ("0.912", "1.5e-05").
std::string FormatNumber(double value);

// A state badge: <span class="state state-running">running</span>.
std::string StateBadge(v1::JobState state);
// A progress bar for a fraction in [0, 1] (clamped), with the percentage as text.
std::string ProgressBar(double fraction);

}  // namespace mp::dashboard::html

#endif  // MP_SERVER_DASHBOARD_HTML_H_
