#include "client/upload.h"

#include <filesystem>
#include <fstream>

#include "common/chunked_read.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

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
  absl::StatusOr<StreamDigest> digest = Sha256OfStream(in);
  if (!digest.ok()) return Annotate(digest.status(), mp::StrCat(what, " '", path, "'"));
  v1::UploadHeader header;
  header.set_name(std::filesystem::path(path).filename().string());
  header.set_sha256(digest->sha256);
  header.set_size_bytes(digest->size_bytes);
  return header;
}

namespace {

// Streams `path` as Request messages (header first) through the writer that
// `open(context, &response)` returns. Request is UploadModelRequest or UploadDatasetRequest,
// which have the same fields.
template <typename Request, typename Response, typename Open>
absl::StatusOr<Response> Upload(Connection& conn, const Open& open, const std::string& path,
                                const std::string& name, std::string_view what,
                                int64_t chunk_bytes) {
  auto context = conn.Context(/*timeout_ms=*/0);
  ASSIGN_OR_RETURN(v1::UploadHeader header, HashLocalFile(path, what));
  if (!name.empty()) header.set_name(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(mp::StrCat(what, " '", path, "': cannot open"));

  Response response;
  std::unique_ptr<grpc::ClientWriterInterface<Request>> writer = open(context.get(), &response);
  Request request;
  *request.mutable_header() = header;
  const ChunkedReadResult sent =
      ReadInChunks(in, chunk_bytes, header.size_bytes(), [&](std::string_view piece) {
        request.set_chunk(piece.data(), piece.size());
        const bool ok = writer->Write(request);
        request.clear_header();
        return ok;
      });
  if (sent.send_ok) writer->WritesDone();
  RETURN_IF_ERROR(FromGrpc(writer->Finish(), mp::StrCat("upload ", what, " '", path, "'")));
  if (sent.bytes != header.size_bytes()) {
    return absl::AbortedError(mp::StrCat(what, " '", path, "': the file changed during upload"));
  }
  return response;
}

}  // namespace

absl::StatusOr<v1::Model> UploadModelFile(Connection& conn, const std::string& path,
                                          const std::string& name, int64_t chunk_bytes) {
  return Upload<v1::UploadModelRequest, v1::Model>(
      conn, [&](grpc::ClientContext* c, v1::Model* r) { return conn.models().UploadModel(c, r); },
      path, name, "model file", chunk_bytes);
}

absl::StatusOr<v1::Dataset> UploadDatasetFile(Connection& conn, const std::string& path,
                                              const std::string& name, int64_t chunk_bytes) {
  return Upload<v1::UploadDatasetRequest, v1::Dataset>(
      conn,
      [&](grpc::ClientContext* c, v1::Dataset* r) { return conn.datasets().UploadDataset(c, r); },
      path, name, "data file", chunk_bytes);
}

absl::StatusOr<std::string> ResolveModelArg(Connection& conn, const std::string& arg,
                                            std::string_view flag, std::ostream& err) {
  if (ModelId::Parse(arg).ok()) return arg;
  absl::StatusOr<v1::Model> m = UploadModelFile(conn, arg, "");
  if (!m.ok()) return mp::Annotate(m.status(), flag);
  err << "uploaded " << arg << " as " << m->id() << "\n";
  return m->id();
}

absl::StatusOr<std::string> ResolveDatasetArg(Connection& conn, const std::string& arg,
                                              std::string_view flag, std::ostream& err) {
  if (DatasetId::Parse(arg).ok()) return arg;
  absl::StatusOr<v1::Dataset> d = UploadDatasetFile(conn, arg, "");
  if (!d.ok()) return mp::Annotate(d.status(), flag);
  err << "uploaded " << arg << " as " << d->id() << "\n";
  return d->id();
}

}  // namespace mp::client
