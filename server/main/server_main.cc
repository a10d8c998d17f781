// modelpress-server: the modelpress API server (gRPC), job queue, store and local workers.
// Flags: server_flags.h; lifecycle: run_server.h. Exit status 0 after a clean shutdown on
// SIGTERM/SIGINT, 1 on a start-up error (one line on stderr naming the culprit), 2 on bad
// usage.
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "common/logging.h"
#include "server/main/run_server.h"
#include "server/main/server_flags.h"

int main(int argc, char** argv) {
  mp::server::BlockShutdownSignals();  // before any thread starts

  CLI::App app{"modelpress-server: the modelpress API server"};
  mp::server::ServerFlags flags;
  mp::server::AddServerFlags(app, &flags);
  CLI11_PARSE(app, argc, argv);

  if (absl::Status s = mp::InitLogging("modelpress-server", flags.log_level); !s.ok()) {
    std::cerr << "modelpress-server: error: " << std::string(s.message()) << "\n";
    return 2;
  }
  absl::Status status = mp::server::RunServer(flags);
  if (!status.ok()) {
    std::cerr << "modelpress-server: error: " << std::string(status.message()) << "\n";
    return 1;
  }
  return 0;
}
