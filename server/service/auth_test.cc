#include "server/service/auth.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::service {
namespace {

using ::testing::HasSubstr;

std::multimap<grpc::string_ref, grpc::string_ref> Metadata(const std::string& value) {
  std::multimap<grpc::string_ref, grpc::string_ref> md;
  md.emplace("authorization", grpc::string_ref(value));
  return md;
}

TEST(TokenTableTest, ParsesTokensRolesAndComments) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(
      "# tokens\n\n  tok-a  alice \ntok-w\tpool worker\ntok-u bob user # trailing? no\n",
      "tokens.txt");
  ASSERT_FALSE(table.ok());  // 4 fields on line 5
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("tokens.txt:5"));

  table = TokenTable::Parse("# tokens\n\n  tok-a  alice \ntok-w\tpool worker\ntok-u bob user\n",
                            "tokens.txt");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);
  ASSERT_NE(table->Find("tok-a"), nullptr);
  EXPECT_EQ(table->Find("tok-a")->tenant, "alice");
  EXPECT_EQ(table->Find("tok-a")->role, Role::kUser);
  EXPECT_EQ(table->Find("tok-w")->role, Role::kWorker);
  EXPECT_EQ(table->Find("tok-u")->role, Role::kUser);
  EXPECT_EQ(table->Find("nope"), nullptr);
}

TEST(TokenTableTest, BadLinesNameTheLine) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse("a t\nb t admin\n", "f");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("f:2"));
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("admin"));
  table = TokenTable::Parse("lonely\n", "f");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("f:1"));
  table = TokenTable::Parse("a t\na u\n", "f");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("duplicate"));
}

TEST(TokenTableTest, LoadNamesMissingFile) {
  absl::StatusOr<TokenTable> table = TokenTable::Load("/nonexistent/tokens");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("/nonexistent/tokens"));
}

TEST(AuthenticatorTest, OffMeansDefaultTenant) {
  Authenticator auth(std::nullopt);
  EXPECT_FALSE(auth.enabled());
  absl::StatusOr<Principal> p =
      auth.Authenticate(std::multimap<grpc::string_ref, grpc::string_ref>(), Role::kWorker);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tenant, "default");
}

TEST(AuthenticatorTest, ChecksBearerTokenAndRole) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse("u1 alice\nw1 pool worker\n", "t");
  ASSERT_TRUE(table.ok());
  Authenticator auth(*std::move(table));
  EXPECT_EQ(auth.Authenticate(std::multimap<grpc::string_ref, grpc::string_ref>(), Role::kUser)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Authenticate(Metadata("u1"), Role::kUser).status().code(),
            absl::StatusCode::kUnauthenticated);  // no "Bearer "
  EXPECT_EQ(auth.Authenticate(Metadata("Bearer u2"), Role::kUser).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Authenticate(Metadata("Bearer w1"), Role::kUser).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Authenticate(Metadata("Bearer u1"), Role::kWorker).status().code(),
            absl::StatusCode::kUnauthenticated);
  absl::StatusOr<Principal> p = auth.Authenticate(Metadata("Bearer u1"), Role::kUser);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tenant, "alice");
}

TEST(AuthenticatorTest, RandomTokensDiffer) {
  const std::string a = RandomToken();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, RandomToken());
}

}  // namespace
}  // namespace mp::service
