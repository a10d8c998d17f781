#include "client/exit_codes.h"

namespace mp::client {

const char* ExitCodeTable() {
  return "Exit status:\n"
         "   0  success (watch, --watch, --wait: the job SUCCEEDED)\n"
         "   1  the job ended FAILED, DEAD or CANCELLED\n"
         "   2  bad usage or INVALID_ARGUMENT (malformed model, data or spec)\n"
         "   3  NOT_FOUND (unknown id, or a local file that does not exist)\n"
         "   4  UNAUTHENTICATED / PERMISSION_DENIED (check --token)\n"
         "   5  UNAVAILABLE / DEADLINE_EXCEEDED (server unreachable)\n"
         "   6  FAILED_PRECONDITION / ABORTED / ALREADY_EXISTS (wrong state, key reuse)\n"
         "   7  RESOURCE_EXHAUSTED (too big, quota, queue full)\n"
         "   8  UNIMPLEMENTED\n"
         "   9  DATA_LOSS (download failed verification; nothing written)\n"
         "  10  other errors\n";
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitUnauthenticated;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kAlreadyExists:
      return kExitConflict;
    case absl::StatusCode::kResourceExhausted:
      return kExitResourceExhausted;
    case absl::StatusCode::kUnimplemented:
      return kExitUnimplemented;
    case absl::StatusCode::kDataLoss:
      return kExitDataLoss;
    default:
      return kExitOther;
  }
}

int ExitCodeForJobState(modelpress::v1::JobState state) {
  return state == modelpress::v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitJobFailed;
}

}  // namespace mp::client
