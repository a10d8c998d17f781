// Command-line flags of modelpress-server and the CLI11 wiring for them.
#ifndef MP_SERVER_MAIN_SERVER_FLAGS_H_
#define MP_SERVER_MAIN_SERVER_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace mp::server {

struct ServerFlags {
  std::string data_dir;                   // required: modelpress.db + blobs/
  std::string listen = "127.0.0.1:7070";  // gRPC; port 0 picks one
  std::string http = "127.0.0.1:7080";    // dashboard + /metrics; "off" disables
  int local_workers = 1;                  // worker processes spawned and supervised
  std::string worker_binary;              // default: modelpress-worker beside this binary
  int worker_threads = 0;                 // > 0: passed to workers as --threads
  std::vector<std::string> worker_args;   // appended to each local worker's command line
  std::string tokens_file;                // empty: authentication off
  int64_t lease_ttl_ms = 10'000;
  int max_attempts = 3;
  int64_t max_upload_bytes = int64_t{2} << 30;
  int64_t tenant_quota_bytes = 0;      // 0: unlimited
  int max_queued_jobs = 0;             // per tenant; 0: unlimited
  std::string ready_file;              // JSON {"grpc","http","pid"} once serving
  int64_t shutdown_grace_ms = 10'000;  // for in-flight RPCs and for workers to exit
  std::string log_level;               // empty: MP_LOG_LEVEL or info
};

// Registers every flag above on `app`.
void AddServerFlags(CLI::App& app, ServerFlags* flags);

}  // namespace mp::server

#endif  // MP_SERVER_MAIN_SERVER_FLAGS_H_
