#include "server/store/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/ids.h"
#include "common/status.h"
#include "common/str_cat.h"

namespace mp::store {
namespace {

absl::Status ErrnoError(std::string_view what, const std::string& path, int err) {
  const std::string message = StrCat("blob store: ", what, " '", path, "': ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

absl::Status CheckSha(std::string_view sha256) {
  if (IsSha256Hex(sha256)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat("sha256 '", sha256.substr(0, 80), "' is not 64 lowercase hex digits"));
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError("open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync directory", dir, err);
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(StrCat("blob store: create '", dir, "': ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// BlobWriter

BlobWriter::BlobWriter(const BlobStore* store, std::string temp_path, int fd,
                       std::string declared_sha, int64_t declared_size, int64_t max_bytes)
    : store_(store),
      temp_path_(std::move(temp_path)),
      fd_(fd),
      declared_sha_(std::move(declared_sha)),
      declared_size_(declared_size),
      max_bytes_(max_bytes) {}

BlobWriter::~BlobWriter() { Abort(); }

void BlobWriter::Abort() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

absl::Status BlobWriter::Append(std::string_view chunk) {
  if (fd_ < 0) return absl::FailedPreconditionError("blob writer is already closed");
  const int64_t total = written_ + static_cast<int64_t>(chunk.size());
  if (total > max_bytes_) {
    Abort();
    return absl::ResourceExhaustedError(
        StrCat("blob is larger than the limit of ", max_bytes_, " bytes"));
  }
  if (declared_size_ >= 0 && total > declared_size_) {
    Abort();
    return absl::InvalidArgumentError(
        StrCat("blob has more bytes than its declared size ", declared_size_));
  }
  hasher_.Update(chunk);
  while (!chunk.empty()) {
    const ssize_t n = ::write(fd_, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const absl::Status status = ErrnoError("write", temp_path_, errno);
      Abort();
      return status;
    }
    chunk.remove_prefix(static_cast<size_t>(n));
  }
  written_ = total;
  return absl::OkStatus();
}

absl::StatusOr<modelpress::v1::BlobRef> BlobWriter::Finish() {
  if (fd_ < 0) return absl::FailedPreconditionError("blob writer is already closed");
  const std::string sha = hasher_.HexDigest();
  if (declared_size_ >= 0 && written_ != declared_size_) {
    Abort();
    return absl::InvalidArgumentError(
        StrCat("blob has ", written_, " bytes but its declared size is ", declared_size_));
  }
  if (!declared_sha_.empty() && sha != declared_sha_) {
    Abort();
    return absl::InvalidArgumentError(
        StrCat("blob content has sha256 ", sha, " but the declared sha256 is ", declared_sha_));
  }
  if (::fsync(fd_) != 0) {
    const absl::Status status = ErrnoError("fsync", temp_path_, errno);
    Abort();
    return status;
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const absl::Status status = ErrnoError("close", temp_path_, errno);
    ::unlink(temp_path_.c_str());
    return status;
  }
  const std::string final_path = store_->PathFor(sha);
  const std::string dir = final_path.substr(0, final_path.rfind('/'));
  absl::Status status = MakeDir(dir);
  // rename() atomically replaces an identical blob written concurrently: both are complete.
  if (status.ok() && ::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
    status = ErrnoError("rename into", final_path, errno);
  }
  if (!status.ok()) {
    ::unlink(temp_path_.c_str());
    return status;
  }
  RETURN_IF_ERROR(FsyncDir(dir));
  modelpress::v1::BlobRef ref;
  ref.set_sha256(sha);
  ref.set_size_bytes(written_);
  return ref;
}

// ---------------------------------------------------------------------------------------
// BlobReader

BlobReader::BlobReader(std::string path, int fd, int64_t size)
    : path_(std::move(path)), fd_(fd), size_(size) {}

BlobReader::~BlobReader() { ::close(fd_); }

absl::Status BlobReader::Read(size_t max_bytes, std::string* out) {
  out->resize(max_bytes);
  size_t got = 0;
  while (got < max_bytes) {
    const ssize_t n = ::read(fd_, out->data() + got, max_bytes - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      out->clear();
      return ErrnoError("read", path_, errno);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// BlobStore

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(std::string root) {
  if (root.empty()) return absl::InvalidArgumentError("blob store: root is empty");
  std::unique_ptr<BlobStore> store(new BlobStore(std::move(root)));
  RETURN_IF_ERROR(MakeDir(store->temp_dir()));
  // Leftovers of uploads interrupted by a crash: never under a final name, safe to drop.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(store->temp_dir(), ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
  if (ec) {
    return absl::InternalError(
        StrCat("blob store: clean '", store->temp_dir(), "': ", ec.message()));
  }
  return store;
}

std::string BlobStore::PathFor(std::string_view sha256) const {
  return StrCat(root_, "/", sha256.substr(0, 2), "/", sha256);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> BlobStore::NewWriter(std::string_view declared_sha256,
                                                                 int64_t declared_size,
                                                                 int64_t max_bytes) const {
  if (!declared_sha256.empty()) RETURN_IF_ERROR(CheckSha(declared_sha256));
  if (declared_size > max_bytes) {
    return absl::ResourceExhaustedError(
        StrCat("declared size ", declared_size, " bytes is over the limit of ", max_bytes));
  }
  const std::string path = StrCat(temp_dir(), "/", internal::RandomId("up"), ".part");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create", path, errno);
  return std::unique_ptr<BlobWriter>(
      new BlobWriter(this, path, fd, std::string(declared_sha256), declared_size, max_bytes));
}

absl::StatusOr<modelpress::v1::BlobRef> BlobStore::Put(std::string_view bytes) const {
  const int64_t size = static_cast<int64_t>(bytes.size());
  ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, NewWriter("", size, size));
  RETURN_IF_ERROR(writer->Append(bytes));
  return writer->Finish();
}

absl::StatusOr<std::unique_ptr<BlobReader>> BlobStore::NewReader(std::string_view sha256) const {
  RETURN_IF_ERROR(CheckSha(sha256));
  const std::string path = PathFor(sha256);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("blob ", sha256, " not found"));
    return ErrnoError("open", path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const absl::Status status = ErrnoError("stat", path, errno);
    ::close(fd);
    return status;
  }
  return std::unique_ptr<BlobReader>(new BlobReader(path, fd, st.st_size));
}

absl::StatusOr<std::string> BlobStore::ReadAll(std::string_view sha256, int64_t max_bytes) const {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, NewReader(sha256));
  if (reader->size() > max_bytes) {
    return absl::ResourceExhaustedError(
        StrCat("blob ", sha256, " has ", reader->size(), " bytes, over the limit of ", max_bytes));
  }
  std::string bytes;
  RETURN_IF_ERROR(reader->Read(static_cast<size_t>(reader->size()), &bytes));
  return bytes;
}

absl::StatusOr<int64_t> BlobStore::Size(std::string_view sha256) const {
  RETURN_IF_ERROR(CheckSha(sha256));
  struct stat st;
  const std::string path = PathFor(sha256);
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("blob ", sha256, " not found"));
    return ErrnoError("stat", path, errno);
  }
  return static_cast<int64_t>(st.st_size);
}

bool BlobStore::Exists(std::string_view sha256) const { return Size(sha256).ok(); }

absl::Status BlobStore::Delete(std::string_view sha256) const {
  RETURN_IF_ERROR(CheckSha(sha256));
  const std::string path = PathFor(sha256);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("blob ", sha256, " not found"));
    return ErrnoError("delete", path, errno);
  }
  return absl::OkStatus();
}

}  // namespace mp::store
