// The hook through which modelpress-server starts its HTTP listener (dashboard + /metrics).
//
// server/dashboard sits above this module (store < queue < service < dashboard), so the
// service layer only defines the interface; the dashboard implements HttpListener and the
// server binary creates it with an HttpListenerFactory when `--http` is not "off".
#ifndef MP_SERVER_SERVICE_HTTP_HOOK_H_
#define MP_SERVER_SERVICE_HTTP_HOOK_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/queue/queue.h"
#include "server/service/auth.h"
#include "server/store/blob_store.h"
#include "server/store/store.h"

namespace mp::service {

// What an HTTP listener may read; not owned, valid until HttpListener::Stop returns.
struct HttpContext {
  store::Store* store = nullptr;
  store::BlobStore* blobs = nullptr;
  queue::Queue* queue = nullptr;
  Clock* clock = nullptr;
  const Authenticator* auth = nullptr;
  std::string grpc_address;  // where the gRPC API listens, e.g. "127.0.0.1:7070"
};

class HttpListener {
 public:
  virtual ~HttpListener() = default;
  // "HOST:PORT" actually bound (port 0 in the flag resolved).
  virtual std::string address() const = 0;
  // Stops accepting, ends open connections and joins the listener's threads. Idempotent.
  virtual void Stop() = 0;
};

// Starts a listener on `listen` ("HOST:PORT", port 0 picks one).
using HttpListenerFactory = std::function<absl::StatusOr<std::unique_ptr<HttpListener>>(
    const std::string& listen, const HttpContext& context)>;

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_HTTP_HOOK_H_
