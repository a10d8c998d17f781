// Output helpers shared by the commands: enum names, sizes, times, aligned tables, and
// proto JSON (google::protobuf::util::MessageToJsonString, one object per line).
#ifndef MP_CLIENT_FORMAT_H_
#define MP_CLIENT_FORMAT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "modelpress/v1/job.pb.h"

namespace mp::client {

// "succeeded" for JOB_STATE_SUCCEEDED; "ptq" for JOB_KIND_PTQ.
std::string StateName(modelpress::v1::JobState state);
std::string KindName(modelpress::v1::JobKind kind);
// Accepts "running", "RUNNING" or "JOB_STATE_RUNNING"; INVALID_ARGUMENT listing the names.
absl::StatusOr<modelpress::v1::JobState> ParseState(const std::string& text);
absl::StatusOr<modelpress::v1::JobKind> ParseKind(const std::string& text);

std::string FormatBytes(int64_t bytes);      // "1.2 MiB"
std::string FormatTime(int64_t unix_ms);     // "2024-05-01 12:00:03" (UTC); "-" for 0
std::string FormatDuration(double seconds);  // "1:05", "1:02:03"; "?" for < 0
std::string FormatNumber(double value);      // metrics: integers exactly, else 4 digits

// Rows of cells printed with columns padded to the widest cell.
void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out);

// The message as one line of proto JSON.
void PrintJson(const google::protobuf::Message& message, std::ostream& out);

}  // namespace mp::client

#endif  // MP_CLIENT_FORMAT_H_
