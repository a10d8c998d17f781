// modelpress download JOB [--artifact NAME] -o FILE
// The artifact is streamed into a temp file beside FILE while it is hashed; only when the
// bytes match the sha256 and size the server declared (first chunk) is the temp file
// fsynced and renamed to FILE. Any failure removes the temp file: FILE is never half
// written (an existing FILE is left as it was).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "client/commands.h"
#include "client/format.h"
#include "common/sha256.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace mp::client {

namespace v1 = ::modelpress::v1;

namespace {

// Removes the temp file unless released.
class TempFile {
 public:
  explicit TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~TempFile() {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  absl::Status WriteAll(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return absl::InternalError(mp::StrCat("write '", path_, "': ", std::strerror(errno)));
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  // fsync, close, rename to `target`.
  absl::Status Commit(const std::string& target) {
    if (fsync(fd_) != 0 || close(fd_) != 0) {
      fd_ = -1;
      return absl::InternalError(mp::StrCat("fsync '", path_, "': ", std::strerror(errno)));
    }
    fd_ = -1;
    if (rename(path_.c_str(), target.c_str()) != 0) {
      return absl::InternalError(mp::StrCat("rename to '", target, "': ", std::strerror(errno)));
    }
    path_.clear();
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int fd_;
};

}  // namespace

absl::Status DownloadCommand(const DownloadOptions& options, CommandEnv& env) {
  if (options.output.empty()) return absl::InvalidArgumentError("download: -o FILE is required");
  const std::filesystem::path target = std::filesystem::absolute(options.output);
  std::string pattern =
      (target.parent_path() / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = mkstemp(pattern.data());
  if (fd < 0) {
    return absl::InvalidArgumentError(mp::StrCat(
        "output '", options.output, "': cannot create a file there: ", std::strerror(errno)));
  }
  TempFile tmp(pattern, fd);
  const std::string what = mp::StrCat("download ", options.artifact, " of ", options.job_id);

  v1::DownloadArtifactRequest request;
  request.set_job_id(options.job_id);
  request.set_name(options.artifact);
  auto context = env.conn->Context(/*timeout_ms=*/0);
  auto reader = env.conn->jobs().DownloadArtifact(context.get(), request);
  v1::DownloadArtifactChunk chunk;
  v1::BlobRef declared;
  bool first = true;
  int64_t size = 0;
  Sha256 sha;
  absl::Status local;
  while (reader->Read(&chunk)) {
    if (first) {
      declared = chunk.blob();
      first = false;
    }
    size += static_cast<int64_t>(chunk.data().size());
    if (size > declared.size_bytes()) {
      local = absl::DataLossError(
          mp::StrCat(what, ": more than the declared ", declared.size_bytes(), " bytes arrived"));
      context->TryCancel();
      break;
    }
    sha.Update(chunk.data());
    local = tmp.WriteAll(chunk.data());
    if (!local.ok()) {
      context->TryCancel();
      break;
    }
  }
  const grpc::Status end = reader->Finish();
  RETURN_IF_ERROR(local);
  RETURN_IF_ERROR(FromGrpc(end, what));
  if (first || declared.sha256().empty()) {
    return absl::DataLossError(mp::StrCat(what, ": the server declared no sha256"));
  }
  if (size != declared.size_bytes()) {
    return absl::DataLossError(
        mp::StrCat(what, ": ", size, " bytes arrived, expected ", declared.size_bytes()));
  }
  const std::string got = sha.HexDigest();
  if (got != declared.sha256()) {
    return absl::DataLossError(mp::StrCat(what, ": the bytes hash to ", got, ", expected ",
                                          declared.sha256(), "; nothing written"));
  }
  RETURN_IF_ERROR(tmp.Commit(target.string()));
  if (env.json) {
    nlohmann::json j = {{"path", options.output}, {"sha256", got}, {"sizeBytes", size}};
    *env.out << j.dump() << "\n";
  } else {
    *env.out << "wrote " << options.output << " (" << FormatBytes(size) << ", sha256 " << got
             << ")\n";
  }
  return absl::OkStatus();
}

}  // namespace mp::client
