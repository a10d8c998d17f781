#include "common/logging.h"

#include <cstdlib>
#include <string>

#include "common/str_cat.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace mp {

absl::Status InitLogging(std::string_view process_name, std::string_view level) {
  std::string name(level);
  if (name.empty()) {
    const char* env = std::getenv("MP_LOG_LEVEL");
    name = env != nullptr ? env : "info";
  }
  const spdlog::level::level_enum parsed = spdlog::level::from_str(name);
  // from_str answers `off` for unknown names; only accept `off` when asked for.
  if (parsed == spdlog::level::off && name != "off") {
    return absl::InvalidArgumentError(
        StrCat("unknown log level '", name, "' (expected trace, debug, info, warn, error or off)"));
  }
  auto logger = spdlog::stderr_color_mt(std::string(process_name));
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [%n] %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

}  // namespace mp
