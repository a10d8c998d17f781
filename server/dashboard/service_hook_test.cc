// The dashboard started through the service layer's HttpListenerFactory hook, over a real
// Store, BlobStore and Authenticator, answering a real HTTP client on 127.0.0.1:0.
#include "server/dashboard/service_hook.h"

#include <utility>

#include <string>

#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/clock.h"
#include "common/file_util.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/auth.h"

namespace mp::dashboard {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using ::testing::HasSubstr;
using ::testing::Not;

// GET `target` from "127.0.0.1:PORT" on a fresh connection: (status, body).
std::pair<int, std::string> Get(const std::string& address, const std::string& target,
                                const std::string& token = "") {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return {res.result_int(), res.body()};
}

class ServiceHookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.Create("mp-dash-hook-").ok());
    auto s = store::Store::Open({.data_dir = dir_.path(), .clock = &clock_});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    auto b = store::BlobStore::Open(dir_.path() + "/blobs");
    ASSERT_TRUE(b.ok()) << b.status();
    blobs_ = *std::move(b);
    store::JobRecord r;
    r.tenant = "team-a";
    r.job.set_id("job_00000000000000a1");
    r.job.mutable_spec()->set_kind(v1::JOB_KIND_PTQ);
    r.job.set_state(v1::JOB_STATE_QUEUED);
    r.job.set_created_unix_ms(1000);
    r.spec_hash = std::string(64, 'c');
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(txn->InsertJob(r).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  std::unique_ptr<service::HttpListener> StartListener(const service::Authenticator* auth,
                                                       std::vector<std::string> tenants) {
    service::HttpListenerFactory factory =
        MakeHttpListenerFactory({.metrics = &metrics_, .tenants = std::move(tenants)});
    absl::StatusOr<std::unique_ptr<service::HttpListener>> listener =
        factory("127.0.0.1:0",
                {.store = store_.get(), .blobs = blobs_.get(), .clock = &clock_, .auth = auth});
    EXPECT_TRUE(listener.ok()) << listener.status();
    return listener.ok() ? *std::move(listener) : nullptr;
  }

  FakeClock clock_;
  ScopedTempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::BlobStore> blobs_;
  metrics::Registry registry_;
  ServerMetrics metrics_{&registry_};
};

TEST_F(ServiceHookTest, TokensScopeTheDashboardToTheirTenant) {
  absl::StatusOr<service::TokenTable> table =
      service::TokenTable::Parse("tok-a team-a user\ntok-b team-b\ntok-w pool worker\n", "t");
  ASSERT_TRUE(table.ok());
  service::Authenticator auth(*std::move(table));
  std::unique_ptr<service::HttpListener> listener = StartListener(&auth, {"team-a", "team-b"});
  ASSERT_NE(listener, nullptr);
  const std::string address = listener->address();

  EXPECT_EQ(Get(address, "/").first, 401);
  EXPECT_EQ(Get(address, "/", "nope").first, 401);
  EXPECT_EQ(Get(address, "/", "tok-w").first, 401);  // worker tokens see no dashboard
  auto [status, body] = Get(address, "/", "tok-a");
  EXPECT_EQ(status, 200);
  EXPECT_THAT(body, HasSubstr("job_00000000000000a1"));
  std::tie(status, body) = Get(address, "/", "tok-b");
  EXPECT_EQ(status, 200);
  EXPECT_THAT(body, Not(HasSubstr("job_00000000000000a1")));
  EXPECT_EQ(Get(address, "/jobs/job_00000000000000a1", "tok-b").first, 404);
  EXPECT_EQ(Get(address, "/api/jobs/job_00000000000000a1", "tok-a").first, 200);
  EXPECT_EQ(Get(address, "/healthz").first, 200);

  metrics_.SetLocalWorkerRestarts([] { return int64_t{2}; });
  std::tie(status, body) = Get(address, "/metrics");
  EXPECT_EQ(status, 200);
  EXPECT_THAT(body, HasSubstr("modelpress_jobs_by_kind{kind=\"ptq\",state=\"queued\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("modelpress_tenant_bytes{tenant=\"team-b\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("modelpress_local_worker_restarts_total 2\n"));
  EXPECT_THAT(body, HasSubstr("modelpress_http_requests_total{route=\"/\",code=\"401\"} 3\n"));
  listener->Stop();
}

TEST_F(ServiceHookTest, WithoutTokensEverythingIsTheDefaultTenant) {
  store::JobRecord r;
  r.tenant = "default";
  r.job.set_id("job_00000000000000d1");
  r.job.mutable_spec()->set_kind(v1::JOB_KIND_INSPECT);
  r.job.set_state(v1::JOB_STATE_RUNNING);
  r.spec_hash = std::string(64, 'c');
  auto txn = store_->BeginWrite();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(txn->InsertJob(r).ok());
  ASSERT_TRUE(txn->Commit().ok());

  service::Authenticator auth(std::nullopt);
  std::unique_ptr<service::HttpListener> listener = StartListener(&auth, {});
  ASSERT_NE(listener, nullptr);
  auto [status, body] = Get(listener->address(), "/");
  EXPECT_EQ(status, 200);
  EXPECT_THAT(body, HasSubstr("job_00000000000000d1"));
  EXPECT_THAT(body, Not(HasSubstr("job_00000000000000a1")));
  std::tie(status, body) = Get(listener->address(), "/metrics");
  EXPECT_THAT(body, HasSubstr("modelpress_tenant_bytes{tenant=\"default\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("modelpress_jobs{state=\"queued\"} 1\n"));  // every tenant
}

TEST_F(ServiceHookTest, UnbindableAddressIsAnError) {
  service::HttpListenerFactory factory = MakeHttpListenerFactory({.metrics = &metrics_});
  service::Authenticator auth(std::nullopt);
  absl::StatusOr<std::unique_ptr<service::HttpListener>> listener =
      factory("not an address", {.store = store_.get(), .blobs = blobs_.get(), .auth = &auth});
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(listener.status().message()), HasSubstr("--http not an address"));
}

}  // namespace
}  // namespace mp::dashboard
