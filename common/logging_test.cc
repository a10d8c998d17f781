#include "common/logging.h"

#include "gtest/gtest.h"

namespace mp {
namespace {

TEST(LoggingTest, AcceptsKnownLevelsAndRejectsUnknown) {
  spdlog::drop_all();
  ASSERT_TRUE(InitLogging("test-a", "warn").ok());
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  EXPECT_EQ(spdlog::default_logger()->name(), "test-a");
  spdlog::drop_all();
  ASSERT_TRUE(InitLogging("test-b", "off").ok());
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::off);
  absl::Status bad = InitLogging("test-c", "loud");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("'loud'"), std::string::npos);
}

}  // namespace
}  // namespace mp
