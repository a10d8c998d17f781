#include "workers/runtime/blob_transfer.h"

#include <openssl/evp.h>

#include <fstream>
#include <system_error>
#include <vector>

#include "common/check.h"
#include "common/status.h"

namespace mp::runtime {

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

absl::StatusOr<v1::BlobRef> HashFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(mp::StrCat("file '", path.string(), "': cannot open"));
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
  if (in.bad()) return absl::DataLossError(mp::StrCat("file '", path.string(), "': read error"));
  v1::BlobRef ref;
  ref.set_sha256(sha.Hex());
  ref.set_size_bytes(size);
  return ref;
}

absl::Status FetchBlobToFile(v1::WorkerService::StubInterface& stub, const RpcConfig& rpc,
                             const std::string& job_id, int64_t epoch, const v1::BlobRef& blob,
                             const std::filesystem::path& path) {
  const std::string what = mp::StrCat("FetchBlob ", blob.sha256());
  v1::FetchBlobRequest request;
  request.set_sha256(blob.sha256());
  request.set_job_id(job_id);
  request.set_epoch(epoch);
  auto context = NewContext(rpc, rpc.stream_timeout_ms);
  auto reader = stub.FetchBlob(context.get(), request);

  absl::Status status;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) {
      context->TryCancel();
      reader->Finish().ok();  // drain; the local error is what matters
      return absl::InternalError(mp::StrCat("cannot create '", path.string(), "'"));
    }
    Sha256 sha;
    int64_t size = 0;
    v1::BlobChunk chunk;
    while (reader->Read(&chunk)) {
      size += static_cast<int64_t>(chunk.data().size());
      if (size > blob.size_bytes()) {
        context->TryCancel();
        break;
      }
      sha.Update(chunk.data());
      out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    }
    grpc::Status end = reader->Finish();
    out.close();
    if (size > blob.size_bytes()) {
      status = absl::DataLossError(
          mp::StrCat(what, ": more than the declared ", blob.size_bytes(), " bytes arrived"));
    } else if (!end.ok()) {
      status = FromGrpc(end, what);
    } else if (!out) {
      status = absl::InternalError(mp::StrCat("write '", path.string(), "' failed"));
    } else if (size != blob.size_bytes()) {
      status = absl::DataLossError(
          mp::StrCat(what, ": ", size, " bytes arrived, expected ", blob.size_bytes()));
    } else if (const std::string got = sha.Hex(); got != blob.sha256()) {
      status = absl::DataLossError(mp::StrCat(what, ": the bytes that arrived hash to ", got));
    }
  }
  if (!status.ok()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  return status;
}

absl::StatusOr<v1::BlobRef> PutBlobFromFile(v1::WorkerService::StubInterface& stub,
                                            const RpcConfig& rpc, const std::filesystem::path& path,
                                            int64_t chunk_bytes) {
  ASSIGN_OR_RETURN(v1::BlobRef declared, HashFile(path));
  const std::string what = mp::StrCat("PutBlob '", path.filename().string(), "'");
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(mp::StrCat("file '", path.string(), "': cannot open"));

  auto context = NewContext(rpc, rpc.stream_timeout_ms);
  v1::BlobRef stored;
  auto writer = stub.PutBlob(context.get(), &stored);
  v1::BlobChunk chunk;
  *chunk.mutable_blob() = declared;
  std::string buf(static_cast<size_t>(chunk_bytes), '\0');
  int64_t sent = 0;
  bool first = true;
  bool stream_ok = true;
  while (stream_ok && (first || sent < declared.size_bytes())) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n < 0 || (n == 0 && !first)) break;
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    stream_ok = writer->Write(chunk);
    chunk.clear_blob();
    sent += n;
    first = false;
  }
  if (stream_ok) writer->WritesDone();
  grpc::Status end = writer->Finish();
  RETURN_IF_ERROR(FromGrpc(end, what));
  if (sent != declared.size_bytes()) {
    return absl::InternalError(mp::StrCat(what, ": the file changed while it was sent"));
  }
  if (stored.sha256() != declared.sha256()) {
    return absl::DataLossError(
        mp::StrCat(what, ": server stored ", stored.sha256(), ", expected ", declared.sha256()));
  }
  return stored;
}

}  // namespace mp::runtime
