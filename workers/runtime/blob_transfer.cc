#include "workers/runtime/blob_transfer.h"

#include <fstream>
#include <system_error>

#include "common/chunked_read.h"
#include "common/sha256.h"
#include "common/status.h"

namespace mp::runtime {

namespace v1 = ::modelpress::v1;

absl::StatusOr<v1::BlobRef> HashFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(mp::StrCat("file '", path.string(), "': cannot open"));
  absl::StatusOr<StreamDigest> digest = Sha256OfStream(in);
  if (!digest.ok()) return Annotate(digest.status(), mp::StrCat("file '", path.string(), "'"));
  v1::BlobRef ref;
  ref.set_sha256(digest->sha256);
  ref.set_size_bytes(digest->size_bytes);
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
    } else if (const std::string got = sha.HexDigest(); got != blob.sha256()) {
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
  const ChunkedReadResult sent =
      ReadInChunks(in, chunk_bytes, declared.size_bytes(), [&](std::string_view piece) {
        chunk.set_data(piece.data(), piece.size());
        const bool ok = writer->Write(chunk);
        chunk.clear_blob();
        return ok;
      });
  if (sent.send_ok) writer->WritesDone();
  RETURN_IF_ERROR(FromGrpc(writer->Finish(), what));
  if (sent.bytes != declared.size_bytes()) {
    return absl::InternalError(mp::StrCat(what, ": the file changed while it was sent"));
  }
  if (stored.sha256() != declared.sha256()) {
    return absl::DataLossError(
        mp::StrCat(what, ": server stored ", stored.sha256(), ", expected ", declared.sha256()));
  }
  return stored;
}

}  // namespace mp::runtime
