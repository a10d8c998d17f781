// File utilities. Writes that others may read are atomic: a reader sees the old bytes or
// the new bytes, never a half-written file, and a crash leaves no partial file under the
// final name (temp → fsync → rename → fsync of the directory).
#ifndef MP_COMMON_FILE_UTIL_H_
#define MP_COMMON_FILE_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mp {

// Writes `bytes` to `path` atomically. The temp file lives beside `path` (same filesystem)
// and is removed on any failure. Errors name the path and the failing system call.
absl::Status AtomicWriteFile(const std::string& path, std::string_view bytes);

// Reads the whole file. NOT_FOUND if it does not exist; RESOURCE_EXHAUSTED if it is larger
// than `max_bytes`.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     uint64_t max_bytes = uint64_t{1} << 32);

// Creates a fresh directory under `parent` (or $TMPDIR, else /tmp, when empty) named
// `<prefix>XXXXXX`, and returns its path.
absl::StatusOr<std::string> MakeTempDir(std::string_view prefix, const std::string& parent = "");

// Removes `path` and everything below it; a missing path is OK.
absl::Status RemoveAll(const std::string& path);

// A directory removed (recursively) when the object goes out of scope.
class ScopedTempDir {
 public:
  ScopedTempDir() = default;
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  ~ScopedTempDir();

  // Creates the directory; call once.
  absl::Status Create(std::string_view prefix = "mp-");
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mp

#endif  // MP_COMMON_FILE_UTIL_H_
