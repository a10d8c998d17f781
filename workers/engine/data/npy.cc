// .npy read (from memory or streamed from a file) and write; format and rules in npy.h.
#include "workers/engine/data/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/data/npy_internal.h"

namespace mp::data {
namespace {

using tensor::DType;
using tensor::Tensor;

// Headers larger than this are rejected (numpy itself refuses headers over 10 KB by default).
constexpr int64_t kMaxHeaderBytes = int64_t{1} << 20;

absl::Status CheckDataSize(const NpyHeader& h, int64_t available, std::string_view name,
                           const NpyReadOptions& options) {
  if (available < h.data_bytes) {
    return absl::InvalidArgumentError(StrCat(name, ": truncated: ", available,
                                             " data bytes, but shape ", h.shape.ToString(), " of ",
                                             tensor::DTypeName(h.dtype), " needs ", h.data_bytes));
  }
  if (available > h.data_bytes) {
    return absl::InvalidArgumentError(StrCat(name, ": ", available - h.data_bytes,
                                             " bytes after the data of shape ", h.shape.ToString(),
                                             " of ", tensor::DTypeName(h.dtype)));
  }
  if (h.data_bytes > options.max_bytes) {
    return absl::ResourceExhaustedError(
        StrCat(name, ": ", h.data_bytes, " data bytes, over the limit of ", options.max_bytes));
  }
  return absl::OkStatus();
}

// Validates bool bytes and applies the float64 option. `t` holds the raw file data.
absl::StatusOr<Tensor> Finish(Tensor t, std::string_view name, const NpyReadOptions& options) {
  if (t.dtype() == DType::kBool) {
    const auto* bytes = static_cast<const uint8_t*>(t.raw_data());
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if (bytes[i] > 1) {
        return absl::InvalidArgumentError(
            StrCat(name, ": bool element ", i, " has byte value ", bytes[i], ", expected 0 or 1"));
      }
    }
  }
  if (t.dtype() == DType::kFloat64 && options.float64_to_float32) {
    ASSIGN_OR_RETURN(Tensor f, Tensor::Allocate(DType::kFloat32, t.shape()));
    const double* src = t.data<double>();
    float* dst = f.mutable_data<float>();
    for (int64_t i = 0; i < t.num_elements(); ++i) dst[i] = static_cast<float>(src[i]);
    return f;
  }
  return t;
}

absl::Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  const std::string msg = StrCat(what, " '", path, "': ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

// Reads exactly `n` bytes at `offset`; INVALID_ARGUMENT if the file ends first.
absl::Status PreadAll(int fd, void* dst, int64_t n, int64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(n, int64_t{1} << 30));
    const ssize_t got = ::pread(fd, p, chunk, offset);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", path, errno);
    }
    if (got == 0) return absl::InvalidArgumentError(StrCat(path, ": truncated while reading"));
    p += got;
    n -= got;
    offset += got;
  }
  return absl::OkStatus();
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<Tensor> ParseNpy(std::string_view bytes, std::string_view name,
                                const NpyReadOptions& options) {
  ASSIGN_OR_RETURN(NpyHeader h, ParseNpyHeader(bytes, name));
  const int64_t available = static_cast<int64_t>(bytes.size()) - h.data_offset;
  RETURN_IF_ERROR(CheckDataSize(h, available, name, options));
  auto t = Tensor::Allocate(h.dtype, h.shape, options.max_bytes);
  if (!t.ok()) return Annotate(t.status(), name);
  if (h.data_bytes > 0) {
    std::memcpy(t->mutable_raw_data(), bytes.data() + h.data_offset,
                static_cast<size_t>(h.data_bytes));
  }
  return Finish(*std::move(t), name, options);
}

absl::StatusOr<Tensor> ReadNpy(const std::string& path, const NpyReadOptions& options) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("open", path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(StrCat("'", path, "' is not a regular file"));
  }
  const int64_t file_size = st.st_size;

  // The preamble tells the header length; read exactly up to the data.
  std::string prefix(static_cast<size_t>(std::min<int64_t>(file_size, 12)), '\0');
  RETURN_IF_ERROR(PreadAll(fd.get(), prefix.data(), static_cast<int64_t>(prefix.size()), 0, path));
  if (prefix.size() == 12 && std::memcmp(prefix.data(), "\x93NUMPY", 6) == 0) {
    const int major = static_cast<uint8_t>(prefix[6]);
    int64_t header_len = static_cast<uint8_t>(prefix[8]) | (static_cast<uint8_t>(prefix[9]) << 8);
    int64_t start = 10;
    if (major == 2 || major == 3) {
      header_len |= int64_t{static_cast<uint8_t>(prefix[10])} << 16 |
                    int64_t{static_cast<uint8_t>(prefix[11])} << 24;
      start = 12;
    }
    if (header_len > kMaxHeaderBytes) {
      return absl::InvalidArgumentError(StrCat(path, ": .npy header declares ", header_len,
                                               " bytes, over the limit of ", kMaxHeaderBytes));
    }
    const int64_t want = std::min(file_size, start + header_len);
    prefix.resize(static_cast<size_t>(want));
    RETURN_IF_ERROR(PreadAll(fd.get(), prefix.data(), want, 0, path));
  }
  ASSIGN_OR_RETURN(NpyHeader h, ParseNpyHeader(prefix, path));
  RETURN_IF_ERROR(CheckDataSize(h, file_size - h.data_offset, path, options));
  auto t = Tensor::Allocate(h.dtype, h.shape, options.max_bytes);
  if (!t.ok()) return Annotate(t.status(), path);
  RETURN_IF_ERROR(PreadAll(fd.get(), t->mutable_raw_data(), h.data_bytes, h.data_offset, path));
  return Finish(*std::move(t), path, options);
}

absl::StatusOr<std::string> EncodeNpy(const Tensor& t) {
  if (!t.defined()) return absl::InvalidArgumentError("cannot encode an undefined tensor as .npy");
  if (internal::NpyDescrOf(t.dtype()) == nullptr) {
    return absl::UnimplementedError(StrCat(".npy has no dtype for ", tensor::DTypeName(t.dtype())));
  }
  std::string out = internal::EncodeNpyHeader(t.dtype(), t.shape());
  out.append(static_cast<const char*>(t.raw_data()), t.byte_size());
  return out;
}

absl::Status WriteNpy(const std::string& path, const Tensor& t) {
  auto bytes = EncodeNpy(t);
  if (!bytes.ok()) return Annotate(bytes.status(), StrCat("write '", path, "'"));
  return AtomicWriteFile(path, *bytes);
}

}  // namespace mp::data
