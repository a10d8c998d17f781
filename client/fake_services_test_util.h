// In-process fakes of the public services for the CLI's tests: scripted answers, recorded
// requests, served on 127.0.0.1:<ephemeral port>.
#ifndef MP_CLIENT_FAKE_SERVICES_TEST_UTIL_H_
#define MP_CLIENT_FAKE_SERVICES_TEST_UTIL_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "common/sha256.h"
#include "modelpress/v1/job.grpc.pb.h"
#include "modelpress/v1/model.grpc.pb.h"

namespace mp::client::testing {

namespace v1 = ::modelpress::v1;

// Reads an upload stream: header first, then chunks; checks the declared digest and size.
template <typename Request>
grpc::Status ReadUpload(grpc::ServerReader<Request>* reader, v1::UploadHeader* header,
                        std::string* bytes, std::vector<size_t>* chunk_sizes) {
  Request r;
  bool first = true;
  while (reader->Read(&r)) {
    if (first != r.has_header()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "fake: header must come first");
    }
    if (first) *header = r.header();
    first = false;
    chunk_sizes->push_back(r.chunk().size());
    *bytes += r.chunk();
  }
  if (Sha256Hex(*bytes) != header->sha256() || int64_t(bytes->size()) != header->size_bytes()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "fake: sha256 mismatch");
  }
  return grpc::Status::OK;
}

class FakeModelService final : public v1::ModelService::Service {
 public:
  grpc::Status UploadModel(grpc::ServerContext* ctx, grpc::ServerReader<v1::UploadModelRequest>* r,
                           v1::Model* response) override {
    v1::UploadHeader header;
    std::string bytes;
    std::vector<size_t> sizes;
    grpc::Status s = ReadUpload(r, &header, &bytes, &sizes);
    absl::MutexLock lock(&mu);
    auth = ctx->client_metadata().count("authorization")
               ? std::string(ctx->client_metadata().find("authorization")->second.data(),
                             ctx->client_metadata().find("authorization")->second.size())
               : "";
    if (!s.ok()) return s;
    uploads.push_back(bytes);
    chunk_sizes = sizes;
    response->set_id("model_000000000000000" + std::to_string(uploads.size()));
    response->set_name(header.name());
    response->mutable_blob()->set_sha256(header.sha256());
    response->mutable_blob()->set_size_bytes(header.size_bytes());
    response->set_inspect_job_id(inspect_job_id);
    models[response->id()] = *response;
    return grpc::Status::OK;
  }
  grpc::Status GetModel(grpc::ServerContext*, const v1::GetModelRequest* request,
                        v1::Model* response) override {
    absl::MutexLock lock(&mu);
    auto it = models.find(request->id());
    if (it == models.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "model " + request->id() + " not found");
    }
    *response = it->second;
    return grpc::Status::OK;
  }
  grpc::Status ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                          v1::ListModelsResponse* response) override {
    absl::MutexLock lock(&mu);
    for (const auto& [id, m] : models) *response->add_models() = m;
    return grpc::Status::OK;
  }

  absl::Mutex mu;
  std::vector<std::string> uploads;
  std::vector<size_t> chunk_sizes;
  std::map<std::string, v1::Model> models;
  std::string inspect_job_id;
  std::string auth;
};

class FakeDatasetService final : public v1::DatasetService::Service {
 public:
  grpc::Status UploadDataset(grpc::ServerContext*, grpc::ServerReader<v1::UploadDatasetRequest>* r,
                             v1::Dataset* response) override {
    v1::UploadHeader header;
    std::string bytes;
    std::vector<size_t> sizes;
    grpc::Status s = ReadUpload(r, &header, &bytes, &sizes);
    if (!s.ok()) return s;
    absl::MutexLock lock(&mu);
    names.push_back(header.name());
    response->set_id("data_000000000000000" + std::to_string(names.size()));
    response->set_name(header.name());
    response->set_format("npy");
    return grpc::Status::OK;
  }
  absl::Mutex mu;
  std::vector<std::string> names;
};

class FakeJobService final : public v1::JobService::Service {
 public:
  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* request,
                         v1::Job* response) override {
    absl::MutexLock lock(&mu);
    submitted.push_back(*request);
    response->set_id(submit_id);
    *response->mutable_spec() = request->spec();
    response->set_state(v1::JOB_STATE_QUEUED);
    return grpc::Status::OK;
  }
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* response) override {
    absl::MutexLock lock(&mu);
    auto it = jobs.find(request->id());
    if (it == jobs.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "job " + request->id() + " not found");
    }
    *response = it->second;
    return grpc::Status::OK;
  }
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override {
    absl::MutexLock lock(&mu);
    list_requests.push_back(*request);
    for (const auto& [id, j] : jobs) *response->add_jobs() = j;
    return grpc::Status::OK;
  }
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* request,
                         v1::Job* response) override {
    absl::MutexLock lock(&mu);
    auto it = jobs.find(request->id());
    if (it == jobs.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such job");
    if (it->second.state() == v1::JOB_STATE_SUCCEEDED) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "job already succeeded");
    }
    it->second.set_state(v1::JOB_STATE_CANCELLED);
    *response = it->second;
    return grpc::Status::OK;
  }
  grpc::Status WatchJob(grpc::ServerContext*, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override {
    std::vector<v1::JobEvent> to_send;
    {
      absl::MutexLock lock(&mu);
      watch_requests.push_back(*request);
      for (const auto& e : events[request->id()]) {
        if (e.sequence() > request->after_sequence()) to_send.push_back(e);
      }
    }
    for (const auto& e : to_send) writer->Write(e);
    return grpc::Status::OK;
  }
  grpc::Status DownloadArtifact(grpc::ServerContext*, const v1::DownloadArtifactRequest* request,
                                grpc::ServerWriter<v1::DownloadArtifactChunk>* writer) override {
    std::string bytes;
    v1::BlobRef ref;
    {
      absl::MutexLock lock(&mu);
      auto it = artifacts.find(request->job_id() + "/" + request->name());
      if (it == artifacts.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no artifact");
      bytes = it->second;
      ref.set_sha256(Sha256Hex(bytes));
      ref.set_size_bytes(int64_t(bytes.size()));
      if (corrupt_download && !bytes.empty()) bytes[bytes.size() / 3] ^= 1;
      if (truncate_download) bytes.resize(bytes.size() / 2);
    }
    for (size_t off = 0; off == 0 || off < bytes.size(); off += 1000) {
      v1::DownloadArtifactChunk chunk;
      if (off == 0) *chunk.mutable_blob() = ref;
      chunk.set_data(bytes.substr(off, 1000));
      writer->Write(chunk);
      if (bytes.empty()) break;
    }
    return grpc::Status::OK;
  }

  absl::Mutex mu;
  std::string submit_id = "job_00000000000000j1";
  std::vector<v1::SubmitJobRequest> submitted;
  std::vector<v1::ListJobsRequest> list_requests;
  std::vector<v1::WatchJobRequest> watch_requests;
  std::map<std::string, v1::Job> jobs;
  std::map<std::string, std::vector<v1::JobEvent>> events;
  std::map<std::string, std::string> artifacts;  // "<job>/<name>" -> bytes
  bool corrupt_download = false;
  bool truncate_download = false;
};

class FakeServer {
 public:
  FakeServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&models);
    builder.RegisterService(&datasets);
    builder.RegisterService(&jobs);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() { server_->Shutdown(std::chrono::system_clock::now()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  FakeModelService models;
  FakeDatasetService datasets;
  FakeJobService jobs;

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace mp::client::testing

#endif  // MP_CLIENT_FAKE_SERVICES_TEST_UTIL_H_
