// The Beast listener on 127.0.0.1:0 with a real HTTP client (synchronous Beast/Asio).
#include <utility>

#include <sys/socket.h>
#include <sys/time.h>

#include <string>

#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dashboard/dashboard.h"
#include "server/dashboard/fake_data_test_util.h"

namespace mp::dashboard {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : metrics_(&registry_) {
    data_.AddJob("default", "job_a", v1::JOB_KIND_PTQ, v1::JOB_STATE_RUNNING);
    options_.address = "127.0.0.1:0";
    options_.data = &data_;
    options_.metrics = &metrics_;
  }

  void Start() {
    absl::StatusOr<std::unique_ptr<HttpServer>> server = StartDashboard(options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }

  // A connected socket whose blocking reads give up after 20 s (so a bug cannot hang the
  // test forever; nothing here waits on time to pass).
  tcp::socket Connect() {
    tcp::socket socket(io_);
    socket.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server_->port())));
    timeval tv{.tv_sec = 20, .tv_usec = 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return socket;
  }

  http::response<http::string_body> Exchange(tcp::socket& socket, http::verb verb,
                                             std::string target, std::string auth = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "localhost");
    if (!auth.empty()) req.set(http::field::authorization, auth);
    http::write(socket, req);
    http::response_parser<http::string_body> parser;
    parser.skip(verb == http::verb::head);  // a HEAD response has no body to read
    http::read(socket, buffer_, parser);
    return parser.release();
  }

  // Sends raw bytes and reads until the server closes the connection.
  std::string RawExchange(std::string bytes) {
    tcp::socket socket = Connect();
    asio::write(socket, asio::buffer(bytes));
    std::string out;
    boost::system::error_code ec;
    asio::read(socket, asio::dynamic_buffer(out), ec);
    EXPECT_EQ(ec, asio::error::eof);
    return out;
  }

  FakeData data_;
  metrics::Registry registry_;
  ServerMetrics metrics_;
  DashboardOptions options_;
  std::unique_ptr<HttpServer> server_;
  asio::io_context io_;
  beast::flat_buffer buffer_;
};

TEST_F(HttpServerTest, ServesRoutesWithKeepAlive) {
  Start();
  EXPECT_EQ(server_->address(), "127.0.0.1:" + std::to_string(server_->port()));
  tcp::socket socket = Connect();
  auto r = Exchange(socket, http::verb::get, "/healthz");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "ok\n");
  EXPECT_TRUE(r.keep_alive());
  // Same connection, more requests.
  r = Exchange(socket, http::verb::get, "/jobs/job_a");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_THAT(r.body(), HasSubstr("job_a"));
  r = Exchange(socket, http::verb::get, "/api/jobs/nope");
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(r[http::field::content_type], "application/json");
  r = Exchange(socket, http::verb::get, "/metrics");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_THAT(r.body(),
              HasSubstr("modelpress_http_requests_total{route=\"/jobs/:id\",code=\"200\"} 1"));
}

TEST_F(HttpServerTest, HeadHasTheGetLengthButNoBody) {
  Start();
  tcp::socket socket = Connect();
  auto get = Exchange(socket, http::verb::get, "/");
  auto head = Exchange(socket, http::verb::head, "/");
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(head[http::field::content_length], std::to_string(get.body().size()));
  EXPECT_TRUE(head.body().empty());
  // The connection is still in sync: the next response parses.
  EXPECT_EQ(Exchange(socket, http::verb::get, "/healthz").body(), "ok\n");
}

TEST_F(HttpServerTest, AuthorizationHeaderReachesTheRouter) {
  options_.routes.authenticate = [](std::string_view token) -> std::optional<std::string> {
    if (token == "secret") return "default";
    return std::nullopt;
  };
  Start();
  tcp::socket socket = Connect();
  auto r = Exchange(socket, http::verb::get, "/");
  EXPECT_EQ(r.result_int(), 401);
  EXPECT_EQ(r[http::field::www_authenticate], "Bearer realm=\"modelpress\"");
  r = Exchange(socket, http::verb::get, "/", "Bearer secret");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_THAT(r.body(), HasSubstr("job_a"));
}

TEST_F(HttpServerTest, RefusesBodiesHugeHeadersAndGarbage) {
  Start();
  std::string out =
      RawExchange("POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 413"));
  out = RawExchange("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'a') +
                    "\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 431"));
  out = RawExchange("NONSENSE\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 400"));
  // Connection: close is honoured.
  out = RawExchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(out, HasSubstr("\r\n\r\nok\n"));
}

TEST_F(HttpServerTest, IdleConnectionsAreClosedAfterTheTimeout) {
  options_.idle_timeout = std::chrono::milliseconds(100);
  Start();
  // Nothing is sent: the server closes the connection by itself; read returns EOF.
  EXPECT_EQ(RawExchange(""), "");
}

TEST_F(HttpServerTest, StopClosesIdleKeepAliveConnections) {
  Start();
  tcp::socket socket = Connect();
  EXPECT_EQ(Exchange(socket, http::verb::get, "/healthz").result_int(), 200);
  server_->Stop();  // returns although a keep-alive connection is open
  std::string out;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(out), ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  server_->Stop();  // idempotent
  tcp::socket again(io_);
  again.connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server_->port())),
      ec);
  EXPECT_TRUE(ec) << "the port still accepts connections after Stop()";
}

TEST_F(HttpServerTest, BadAndBusyAddresses) {
  options_.address = "no-port";
  EXPECT_EQ(StartDashboard(options_).status().code(), absl::StatusCode::kInvalidArgument);
  options_.address = "example.com:80";
  EXPECT_EQ(StartDashboard(options_).status().code(), absl::StatusCode::kInvalidArgument);
  options_.address = "127.0.0.1:70000";
  EXPECT_EQ(StartDashboard(options_).status().code(), absl::StatusCode::kInvalidArgument);
  options_.address = "127.0.0.1:0";
  Start();
  options_.address = server_->address();
  EXPECT_EQ(StartDashboard(options_).status().code(), absl::StatusCode::kUnavailable);
  options_.address = "[::1]:0";
  absl::StatusOr<std::unique_ptr<HttpServer>> v6 = StartDashboard(options_);
  if (v6.ok()) {
    EXPECT_THAT((*v6)->address(), HasSubstr("[::1]:"));
  }
  options_.data = nullptr;
  EXPECT_EQ(StartDashboard(options_).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mp::dashboard
