#include "client/upload.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/check.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  MP_CHECK(ctx_ != nullptr);
  MP_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(std::string_view bytes) {
  MP_CHECK(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), bytes.data(), bytes.size()) == 1);
}

std::string Sha256::Hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  MP_CHECK(EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

absl::StatusOr<v1::UploadHeader> HashLocalFile(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(mp::StrCat(what, " '", path, "': no such file"));
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(mp::StrCat(what, " '", path, "': not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(mp::StrCat(what, " '", path, "': cannot open"));
  Sha256 sha;
  std::vector<char> buf(1 << 16);
  int64_t size = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0) break;
    sha.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    size += n;
  }
  if (in.bad()) return absl::DataLossError(mp::StrCat(what, " '", path, "': read error"));
  v1::UploadHeader header;
  header.set_name(std::filesystem::path(path).filename().string());
  header.set_sha256(sha.Hex());
  header.set_size_bytes(size);
  return header;
}

namespace {

// Streams `path` through `writer` as Request messages (header first). Request is
// UploadModelRequest or UploadDatasetRequest, which have the same fields.
template <typename Request, typename Response>
absl::StatusOr<Response> Upload(
    std::unique_ptr<grpc::ClientContext> context,
    const std::function<std::unique_ptr<grpc::ClientWriterInterface<Request>>(grpc::ClientContext*,
                                                                              Response*)>& open,
    const std::string& path, const std::string& name, std::string_view what, int64_t chunk_bytes) {
  ASSIGN_OR_RETURN(v1::UploadHeader header, HashLocalFile(path, what));
  if (!name.empty()) header.set_name(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(mp::StrCat(what, " '", path, "': cannot open"));

  Response response;
  auto writer = open(context.get(), &response);
  Request request;
  *request.mutable_header() = header;
  std::string buf(static_cast<size_t>(chunk_bytes), '\0');
  int64_t sent = 0;
  bool ok = true;
  bool first = true;
  while (ok && (first || sent < header.size_bytes())) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0 && !first) break;
    request.set_chunk(buf.data(), static_cast<size_t>(std::max<std::streamsize>(n, 0)));
    ok = writer->Write(request);
    request.clear_header();
    sent += std::max<std::streamsize>(n, 0);
    first = false;
  }
  if (ok) writer->WritesDone();
  RETURN_IF_ERROR(FromGrpc(writer->Finish(), mp::StrCat("upload ", what, " '", path, "'")));
  if (sent != header.size_bytes()) {
    return absl::AbortedError(mp::StrCat(what, " '", path, "': the file changed during upload"));
  }
  return response;
}

}  // namespace

absl::StatusOr<v1::Model> UploadModelFile(Connection& conn, const std::string& path,
                                          const std::string& name, int64_t chunk_bytes) {
  auto context = conn.Context(/*timeout_ms=*/0);
  std::function<std::unique_ptr<grpc::ClientWriterInterface<v1::UploadModelRequest>>(
      grpc::ClientContext*, v1::Model*)>
      open = [&](grpc::ClientContext* c, v1::Model* r) { return conn.models().UploadModel(c, r); };
  return Upload<v1::UploadModelRequest, v1::Model>(std::move(context), open, path, name,
                                                   "model file", chunk_bytes);
}

absl::StatusOr<v1::Dataset> UploadDatasetFile(Connection& conn, const std::string& path,
                                              const std::string& name, int64_t chunk_bytes) {
  auto context = conn.Context(/*timeout_ms=*/0);
  std::function<std::unique_ptr<grpc::ClientWriterInterface<v1::UploadDatasetRequest>>(
      grpc::ClientContext*, v1::Dataset*)>
      open = [&](grpc::ClientContext* c, v1::Dataset* r) {
        return conn.datasets().UploadDataset(c, r);
      };
  return Upload<v1::UploadDatasetRequest, v1::Dataset>(std::move(context), open, path, name,
                                                       "data file", chunk_bytes);
}

}  // namespace mp::client
