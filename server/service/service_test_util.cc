#include "server/service/service_test_util.h"

#include <algorithm>
#include <utility>

#include "common/sha256.h"
#include "grpcpp/security/credentials.h"
#include "server/service/grpc_status.h"

namespace mp::service::testing {

TestServer::TestServer(TestServerOptions options) {
  status_ = [&]() -> absl::Status {
    RETURN_IF_ERROR(dir.Create("mp-service-test-"));
    ASSIGN_OR_RETURN(db, store::Store::Open({.data_dir = dir.path(), .clock = &clock}));
    ASSIGN_OR_RETURN(blobs, store::BlobStore::Open(dir.path() + "/blobs"));
    ASSIGN_OR_RETURN(queue, queue::Queue::Create(db.get(), &clock, options.queue));
    auth = std::make_unique<Authenticator>(std::move(options.tokens));
    ASSIGN_OR_RETURN(server, GrpcServer::Start("127.0.0.1:0",
                                               {.store = db.get(),
                                                .blobs = blobs.get(),
                                                .queue = queue.get(),
                                                .clock = &clock,
                                                .auth = auth.get()},
                                               options.service));
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(8 << 20);
    channel =
        grpc::CreateCustomChannel(server->address(), grpc::InsecureChannelCredentials(), args);
    models = v1::ModelService::NewStub(channel);
    datasets = v1::DatasetService::NewStub(channel);
    jobs = v1::JobService::NewStub(channel);
    workers = v1::WorkerService::NewStub(channel);
    return absl::OkStatus();
  }();
}

TestServer::~TestServer() {
  if (server != nullptr) server->Shutdown(std::chrono::milliseconds(0));
  server.reset();
  if (queue != nullptr) queue->Shutdown();
}

std::unique_ptr<grpc::ClientContext> TestServer::Context(std::string_view token) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", StrCat("Bearer ", token));
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return context;
}

absl::StatusOr<v1::Model> TestServer::UploadModel(std::string_view bytes, std::string_view token,
                                                  size_t chunk, std::string declared_sha,
                                                  int64_t declared_size) {
  auto context = Context(token);
  v1::Model model;
  auto writer = models->UploadModel(context.get(), &model);
  v1::UploadModelRequest request;
  request.mutable_header()->set_name("model.onnx");
  request.mutable_header()->set_sha256(declared_sha.empty() ? Sha256Hex(bytes) : declared_sha);
  request.mutable_header()->set_size_bytes(declared_size < 0 ? static_cast<int64_t>(bytes.size())
                                                             : declared_size);
  size_t offset = 0;
  do {
    const size_t n = std::min(chunk, bytes.size() - offset);
    request.set_chunk(std::string(bytes.substr(offset, n)));
    offset += n;
    if (!writer->Write(request)) break;
    request.clear_header();
  } while (offset < bytes.size());
  writer->WritesDone();
  RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  return model;
}

absl::StatusOr<v1::Dataset> TestServer::UploadDataset(std::string_view bytes,
                                                      std::string_view token, std::string name) {
  auto context = Context(token);
  v1::Dataset dataset;
  auto writer = datasets->UploadDataset(context.get(), &dataset);
  v1::UploadDatasetRequest request;
  request.mutable_header()->set_name(name);
  request.mutable_header()->set_sha256(Sha256Hex(bytes));
  request.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
  request.set_chunk(std::string(bytes));
  writer->Write(request);
  writer->WritesDone();
  RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  return dataset;
}

absl::StatusOr<v1::BlobRef> TestServer::PutBlob(std::string_view bytes, std::string_view token) {
  auto context = Context(token);
  v1::BlobRef ref;
  auto writer = workers->PutBlob(context.get(), &ref);
  v1::BlobChunk chunk;
  chunk.mutable_blob()->set_sha256(Sha256Hex(bytes));
  chunk.mutable_blob()->set_size_bytes(static_cast<int64_t>(bytes.size()));
  size_t offset = 0;
  do {
    const size_t n = std::min(bytes.size() - offset, size_t{1} << 20);
    chunk.set_data(std::string(bytes.substr(offset, n)));
    offset += n;
    if (!writer->Write(chunk)) break;
    chunk.clear_blob();
  } while (offset < bytes.size());
  writer->WritesDone();
  RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  return ref;
}

absl::StatusOr<v1::LeaseJobResponse> TestServer::Lease(std::string_view token, int64_t wait_ms) {
  auto context = Context(token);
  v1::LeaseJobRequest request;
  request.set_worker_id("worker_test");
  request.set_wait_ms(wait_ms);
  request.set_engine_version("test-engine");
  v1::LeaseJobResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(workers->LeaseJob(context.get(), request, &response)));
  return response;
}

absl::StatusOr<v1::LeaseJobResponse> TestServer::LeaseJob(const std::string& job_id,
                                                          std::string_view token) {
  for (;;) {
    ASSIGN_OR_RETURN(v1::LeaseJobResponse response, Lease(token));
    if (!response.has_lease()) {
      return absl::NotFoundError(StrCat("job '", job_id, "' was never leased"));
    }
    if (response.lease().job_id() == job_id) return response;
    v1::FailJobRequest fail;
    fail.set_job_id(response.lease().job_id());
    fail.set_epoch(response.lease().epoch());
    fail.set_error("not the job under test");
    auto context = Context(token);
    v1::FailJobResponse ignored;
    RETURN_IF_ERROR(FromGrpcStatus(workers->FailJob(context.get(), fail, &ignored)));
  }
}

std::string NpyBytes(int n) {
  std::string header = StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", n, ", 4), }");
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(static_cast<size_t>(n) * 16, '\0');
  return out;
}

}  // namespace mp::service::testing
