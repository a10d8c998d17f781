// Exit status of `modelpress` (printed by --help):
//
//   0  success (for watch / --watch / --wait: the job SUCCEEDED)
//   1  the job ended FAILED, DEAD or CANCELLED
//   2  bad usage: unknown flag, missing argument, malformed spec (also INVALID_ARGUMENT
//      from the server: a malformed model, data or spec)
//   3  NOT_FOUND: unknown id (or another tenant's), or a local file that does not exist
//   4  UNAUTHENTICATED / PERMISSION_DENIED: missing or bad --token
//   5  UNAVAILABLE / DEADLINE_EXCEEDED: the server cannot be reached or is shutting down
//   6  FAILED_PRECONDITION / ABORTED / ALREADY_EXISTS: wrong state (e.g. cancelling a
//      finished job), or an idempotency key reused with another spec
//   7  RESOURCE_EXHAUSTED: too big, over quota, queue full
//   8  UNIMPLEMENTED: an op, dtype or option the service does not support
//   9  DATA_LOSS: a download failed verification (nothing was written)
//  10  anything else (INTERNAL, UNKNOWN, ...)
#ifndef MP_CLIENT_EXIT_CODES_H_
#define MP_CLIENT_EXIT_CODES_H_

#include "absl/status/status.h"
#include "modelpress/v1/common.pb.h"

namespace mp::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitJobFailed = 1,
  kExitUsage = 2,
  kExitNotFound = 3,
  kExitUnauthenticated = 4,
  kExitUnavailable = 5,
  kExitConflict = 6,
  kExitResourceExhausted = 7,
  kExitUnimplemented = 8,
  kExitDataLoss = 9,
  kExitOther = 10,
};

// The table above, for --help.
const char* ExitCodeTable();

int ExitCodeFor(const absl::Status& status);

// 0 for SUCCEEDED, 1 for FAILED / DEAD / CANCELLED.
int ExitCodeForJobState(modelpress::v1::JobState state);

}  // namespace mp::client

#endif  // MP_CLIENT_EXIT_CODES_H_
