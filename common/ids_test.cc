#include "common/ids.h"

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace mp {
namespace {

TEST(IdsTest, NewIdsHaveThePrefixAndAreUnique) {
  absl::flat_hash_set<JobId> seen;
  for (int i = 0; i < 10000; ++i) {
    JobId id = JobId::New();
    ASSERT_EQ(id.value().rfind("job_", 0), 0u) << id;
    ASSERT_EQ(id.value().size(), 4u + 16u);
    ASSERT_TRUE(seen.insert(id).second) << "duplicate " << id;
  }
}

TEST(IdsTest, ParseAcceptsValidAndRejectsMalformed) {
  const ModelId fresh = ModelId::New();
  auto parsed = ModelId::Parse(fresh.value());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, fresh);
  for (const char* bad :
       {"", "model_", "model_0123456789abcdeF", "job_0123456789abcdef", "model-0123456789abcdef",
        "model_0123456789abcdef0", "model_0123456789abcde/"}) {
    auto r = ModelId::Parse(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ModelId::Parse("x").status().message().find("malformed model id 'x'"),
            std::string::npos);
}

}  // namespace
}  // namespace mp
