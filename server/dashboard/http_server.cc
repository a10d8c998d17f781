// The Boost.Beast HTTP/1.1 listener behind StartDashboard (contract in dashboard.h).
//
// Threading: `threads` threads run one io_context. The accept loop and every connection are
// coroutines, each connection on its own strand, so a connection's handlers never run
// concurrently and a slow route (a /metrics scrape over a big store) holds up only its own
// connection. Stop() may run on any other thread: it marks the server stopping, posts the
// acceptor's close to the acceptor's strand and, to each connection's strand, a close that
// applies only if the connection is idle (waiting for a request). A busy connection sees the
// stopping flag after writing its response and closes itself. When every coroutine has
// returned, io_context::run() returns and Stop() joins the threads.
//
// No exceptions: every asynchronous operation reports through redirect_error.
#include <utility>  // before boost/asio/awaitable.hpp (Boost 1.74 + gcc 12)

#include <atomic>
#include <cstdint>
#include <map>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/redirect_error.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/str_cat.h"
#include "server/dashboard/dashboard.h"

namespace mp::dashboard {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

absl::StatusOr<tcp::endpoint> ParseAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(StrCat("HTTP address '", address, "': expected host:port"));
  }
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const bool digits = !port_text.empty() && port_text.size() <= 5 &&
                      port_text.find_first_not_of("0123456789") == std::string::npos;
  const int port = digits ? std::stoi(port_text) : -1;
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(StrCat("HTTP address '", address, "': bad port"));
  }
  asio::ip::address ip;
  if (host.empty() || host == "0.0.0.0") {
    ip = asio::ip::address_v4::any();
  } else if (host == "localhost") {
    ip = asio::ip::address_v4::loopback();
  } else {
    boost::system::error_code ec;
    ip = asio::ip::make_address(host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          StrCat("HTTP address '", address, "': '", host, "' is not an IP address"));
    }
  }
  return tcp::endpoint(ip, static_cast<uint16_t>(port));
}

class BeastServer final : public HttpServer {
 public:
  explicit BeastServer(const DashboardOptions& options)
      : options_(options),
        router_(options.data, options.metrics, options.routes),
        acceptor_(asio::make_strand(ioc_)) {}

  ~BeastServer() override { Stop(); }

  absl::Status Start() {
    absl::StatusOr<tcp::endpoint> endpoint = ParseAddress(options_.address);
    if (!endpoint.ok()) return endpoint.status();
    boost::system::error_code ec;
    acceptor_.open(endpoint->protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(*endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          StrCat("HTTP listen on '", options_.address, "': ", ec.message()));
    }
    const tcp::endpoint bound = acceptor_.local_endpoint(ec);
    port_ = bound.port();
    const std::string host = bound.address().to_string();
    address_ = bound.address().is_v6() ? StrCat("[", host, "]:", port_) : StrCat(host, ":", port_);
    asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), asio::detached);
    const int threads = options_.threads > 0 ? options_.threads : 1;
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
    return absl::OkStatus();
  }

  int port() const override { return port_; }
  std::string address() const override { return address_; }

  void Stop() override {
    std::vector<std::pair<uint64_t, asio::any_io_executor>> sessions;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;  // set under mu_: a session registering later sees it
      for (const auto& [id, s] : sessions_) sessions.emplace_back(id, s.executor);
    }
    asio::post(acceptor_.get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
    for (const auto& [id, executor] : sessions) {
      asio::post(executor, [this, id = id] { CloseIfIdle(id); });
    }
    absl::MutexLock join_lock(&join_mu_);
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  struct Session {
    asio::any_io_executor executor;
    beast::tcp_stream* stream;
    bool busy;  // between a complete request and its written response
  };

  // Runs on the session's strand, so the session cannot be running meanwhile.
  void CloseIfIdle(uint64_t id) {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.busy) return;
    boost::system::error_code ignored;
    it->second.stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    it->second.stream->socket().close(ignored);
  }

  void SetBusy(uint64_t id, bool busy) {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(id);
    if (it != sessions_.end()) it->second.busy = busy;
  }

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(
          asio::make_strand(ioc_), asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || stopping_ || !acceptor_.is_open()) co_return;
      if (ec) {
        // E.g. out of file descriptors: back off briefly instead of spinning.
        asio::steady_timer timer(acceptor_.get_executor(), std::chrono::milliseconds(50));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      uint64_t id = 0;
      {
        absl::MutexLock lock(&mu_);
        if (static_cast<int>(sessions_.size()) >= options_.max_connections) {
          socket.close(ec);
          continue;
        }
        id = ++next_id_;
      }
      asio::any_io_executor executor = socket.get_executor();
      asio::co_spawn(executor, Serve(id, std::move(socket)), asio::detached);
    }
  }

  static http::response<http::string_body> ToBeast(const HttpResponse& r, unsigned version,
                                                   bool head, bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "modelpress");
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    if (head) res.body().clear();  // Content-Length stays that of the GET response
    return res;
  }

  asio::awaitable<void> Serve(uint64_t id, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    {
      absl::MutexLock lock(&mu_);
      sessions_[id] = Session{stream.get_executor(), &stream, false};
    }
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      parser.body_limit(0);  // GET/HEAD only: any body is refused
      stream.expires_after(options_.idle_timeout);
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      HttpResponse response;
      bool keep_alive = false;
      unsigned version = 11;
      bool head = false;
      if (ec == http::error::header_limit) {
        response = TextResponse(431, "request headers too large\n");
      } else if (ec == http::error::body_limit) {
        response = TextResponse(413, "request bodies are not accepted\n");
      } else if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                 ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                 ec == asio::error::eof || ec == asio::error::bad_descriptor ||
                 ec == asio::error::not_connected) {
        break;
      } else if (ec) {
        response = TextResponse(400, StrCat("malformed request: ", ec.message(), "\n"));
      } else {
        SetBusy(id, true);
        const auto& req = parser.get();
        HttpRequest request;
        request.method = std::string(req.method_string());
        request.target = std::string(req.target());
        if (auto it = req.find(http::field::authorization); it != req.end()) {
          request.authorization = std::string(it->value());
        }
        version = req.version();
        head = req.method() == http::verb::head;
        keep_alive = req.keep_alive() && !stopping_;
        response = router_.Handle(request);
      }
      auto res = ToBeast(response, version, head, keep_alive);
      stream.expires_after(options_.write_timeout);
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      SetBusy(id, false);
      if (ec || !keep_alive) break;
    }
    {
      absl::MutexLock lock(&mu_);
      sessions_.erase(id);
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
  }

  const DashboardOptions options_;
  Router router_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;  // guarded by join_mu_ after Start()
  absl::Mutex join_mu_;
  int port_ = 0;
  std::string address_;

  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> StartDashboard(const DashboardOptions& options) {
  if (options.data == nullptr || options.metrics == nullptr) {
    return absl::InvalidArgumentError("dashboard: data and metrics are required");
  }
  auto server = std::make_unique<BeastServer>(options);
  absl::Status started = server->Start();
  if (!started.ok()) return started;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace mp::dashboard
