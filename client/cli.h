// The `modelpress` command line: flags -> commands.h, errors -> exit_codes.h. main.cc is a
// one-line wrapper so that tests run the whole CLI in process.
#ifndef MP_CLIENT_CLI_H_
#define MP_CLIENT_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace mp::client {

// Runs `modelpress` with `args` (without argv[0]). `tty`: stdout is a terminal. Returns the
// exit status.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           bool tty = false);

}  // namespace mp::client

#endif  // MP_CLIENT_CLI_H_
