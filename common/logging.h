// Logging: spdlog, configured once per process.
//
// Code logs through spdlog's free functions (spdlog::info, spdlog::warn, ...). Processes call
// InitLogging once at start-up; the level comes from the flag or MP_LOG_LEVEL.
#ifndef MP_COMMON_LOGGING_H_
#define MP_COMMON_LOGGING_H_

#include <string_view>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

namespace mp {

// Sets the default logger to stderr with pattern "[time] [level] [process] message" and the
// given level ("trace", "debug", "info", "warn", "error", "off"). An empty level reads
// MP_LOG_LEVEL, defaulting to "info". An unknown level name is INVALID_ARGUMENT.
absl::Status InitLogging(std::string_view process_name, std::string_view level = "");

}  // namespace mp

#endif  // MP_COMMON_LOGGING_H_
