// Runs the whole CLI in process against the fake services.
#ifndef MP_CLIENT_CLI_TEST_UTIL_H_
#define MP_CLIENT_CLI_TEST_UTIL_H_

#include <sstream>
#include <string>
#include <vector>

#include "client/cli.h"
#include "client/fake_services_test_util.h"

namespace mp::client::testing {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

inline CliResult Cli(const FakeServer& server, std::vector<std::string> args) {
  args.insert(args.begin(), {"--server", server.address()});
  std::ostringstream out, err;
  CliResult r;
  r.code = RunCli(args, out, err, /*tty=*/false);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace mp::client::testing

#endif  // MP_CLIENT_CLI_TEST_UTIL_H_
