// BlobStore: content-addressed files for model, dataset and artifact bytes (DESIGN.md §6).
//
// Layout under the root (normally <data_dir>/blobs):
//   <root>/ab/abcdef0123...   the blob whose lowercase hex sha256 is "abcdef0123..." (the
//                             first two hex digits name the fan-out directory)
//   <root>/tmp/<random>.part  uploads in progress
//
// Writing streams: BlobWriter appends chunks to a temp file while hashing them; Finish()
// checks the declared sha256 and size, fsyncs the file, renames it to its final name and
// fsyncs the directory, so a blob that exists under its name is complete and durable.
// Anything else (Abort(), a failed check, destruction without Finish(), a crash) leaves no
// file under a final name; temp files left by a crash are removed by Open(). Concurrent
// writers of the same content are safe: the rename is atomic and both produce identical
// bytes; the second Finish() just discards its temp file.
//
// Blobs are immutable once finished. Reading is by sha256 in chunks (BlobReader). Every
// method is thread-safe; a BlobWriter / BlobReader object is used from one thread at a time.
//
// Status codes: declared size over the cap, or more bytes than the cap streamed:
// RESOURCE_EXHAUSTED; sha256 or size different from the declaration, malformed sha256:
// INVALID_ARGUMENT; unknown sha256: NOT_FOUND; I/O errors: INTERNAL (ENOSPC:
// RESOURCE_EXHAUSTED).
#ifndef MP_SERVER_STORE_BLOB_STORE_H_
#define MP_SERVER_STORE_BLOB_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/sha256.h"
#include "modelpress/v1/common.pb.h"

namespace mp::store {

class BlobStore;

// An upload in progress. Call Append() for every chunk, then Finish() or Abort().
class BlobWriter {
 public:
  ~BlobWriter();  // aborts unless finished
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Appends the next chunk. RESOURCE_EXHAUSTED past the size cap, INVALID_ARGUMENT past the
  // declared size; after an error the writer is aborted and every later call fails.
  absl::Status Append(std::string_view chunk);
  // Verifies the declaration (when given) and makes the blob durable under its name.
  // Returns its sha256 and size. On any error nothing is kept.
  absl::StatusOr<modelpress::v1::BlobRef> Finish();
  // Discards everything written; idempotent.
  void Abort();

  int64_t bytes_written() const { return written_; }

 private:
  friend class BlobStore;
  BlobWriter(const BlobStore* store, std::string temp_path, int fd, std::string declared_sha,
             int64_t declared_size, int64_t max_bytes);

  const BlobStore* store_;
  std::string temp_path_;
  int fd_;  // -1 once finished or aborted
  std::string declared_sha_;
  int64_t declared_size_;
  int64_t max_bytes_;
  int64_t written_ = 0;
  Sha256 hasher_;
};

// Sequential chunked reader of one finished blob.
class BlobReader {
 public:
  ~BlobReader();
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  int64_t size() const { return size_; }
  // Reads the next up to `max_bytes` bytes into *out (replacing its contents). *out is empty
  // at the end of the blob.
  absl::Status Read(size_t max_bytes, std::string* out);

 private:
  friend class BlobStore;
  BlobReader(std::string path, int fd, int64_t size);
  std::string path_;
  int fd_;
  int64_t size_;
};

class BlobStore {
 public:
  // Opens (creating if needed) the store at `root` and deletes leftover temp files.
  static absl::StatusOr<std::unique_ptr<BlobStore>> Open(std::string root);

  // Starts an upload. `declared_sha256` (empty: not declared) must be 64 lowercase hex
  // digits; `declared_size` < 0 means not declared; `max_bytes` caps what may be streamed
  // (RESOURCE_EXHAUSTED at once if declared_size exceeds it).
  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(std::string_view declared_sha256,
                                                        int64_t declared_size,
                                                        int64_t max_bytes) const;
  // Writes a whole blob from memory (tests, small artifacts).
  absl::StatusOr<modelpress::v1::BlobRef> Put(std::string_view bytes) const;

  // Opens a finished blob. NOT_FOUND if absent; INVALID_ARGUMENT if `sha256` is malformed.
  absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(std::string_view sha256) const;
  // Reads a whole blob into memory, refusing blobs over `max_bytes` (RESOURCE_EXHAUSTED).
  absl::StatusOr<std::string> ReadAll(std::string_view sha256, int64_t max_bytes) const;
  // Size of a finished blob; NOT_FOUND if absent.
  absl::StatusOr<int64_t> Size(std::string_view sha256) const;
  bool Exists(std::string_view sha256) const;
  // Removes a blob (for garbage collection by the caller); NOT_FOUND if absent.
  absl::Status Delete(std::string_view sha256) const;

  // Where the blob with this sha256 lives (whether or not it exists).
  std::string PathFor(std::string_view sha256) const;
  const std::string& root() const { return root_; }
  std::string temp_dir() const { return root_ + "/tmp"; }

 private:
  friend class BlobWriter;
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace mp::store

#endif  // MP_SERVER_STORE_BLOB_STORE_H_
