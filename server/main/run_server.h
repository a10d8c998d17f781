// RunServer: modelpress-server from flags to exit.
//
// Start-up: open the store (data_dir/modelpress.db) and blob store (data_dir/blobs), create
// the queue and its background reaper, serve gRPC, start the HTTP listener (through the
// dashboard, unless --http is "off"), spawn the local workers,
// then write the ready file. With --tokens and local workers, a random worker token (never
// written to disk) is added to the table and given to the children as MODELPRESS_TOKEN.
//
// Shutdown on SIGTERM/SIGINT (exit status 0):
//   1. health NOT_SERVING; WatchJob streams end (UNAVAILABLE), LeaseJob polls answer empty;
//   2. the HTTP listener stops;
//   3. local workers get SIGTERM and --shutdown-grace-ms to exit (then SIGKILL), while the
//      gRPC server still answers them, so they can hand their jobs back;
//   4. the gRPC server stops accepting and gives in-flight RPCs the same grace;
//   5. the queue stops, the store closes, the ready file is removed.
#ifndef MP_SERVER_MAIN_RUN_SERVER_H_
#define MP_SERVER_MAIN_RUN_SERVER_H_

#include <string>

#include "absl/status/status.h"
#include "server/main/server_flags.h"

namespace mp::server {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; call first thing in main, before
// any thread exists, so every later thread inherits the mask and RunServer receives them
// with sigwait.
void BlockShutdownSignals();

// Runs until SIGTERM or SIGINT. The HTTP listener is the dashboard (server/dashboard) with
// /metrics; gRPC calls are counted by its interceptor.
absl::Status RunServer(const ServerFlags& flags);

// The worker executable: `flag` if set; else modelpress-worker beside this binary, or in the
// build tree's workers/ directory next to it; else the bare name (looked up on PATH).
std::string ResolveWorkerBinary(const std::string& flag);

}  // namespace mp::server

#endif  // MP_SERVER_MAIN_RUN_SERVER_H_
