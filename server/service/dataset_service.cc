#include "server/service/dataset_service.h"

#include <string>
#include <utility>

#include "server/service/dataset_format.h"
#include "server/service/rpc_util.h"
#include "server/service/upload.h"

namespace mp::service {
namespace {

class DatasetUploadReactor final : public UploadReactor<v1::UploadDatasetRequest, v1::Dataset> {
 public:
  DatasetUploadReactor(ServiceCore* core, grpc::CallbackServerContext* context,
                       v1::Dataset* response, std::string tenant)
      : UploadReactor(core, context, response), tenant_(std::move(tenant)) {}
  ~DatasetUploadReactor() override { BeforeReply(); }

 private:
  absl::StatusOr<UploadDeclaration> OnFirst(const v1::UploadDatasetRequest& first) override {
    if (!first.has_header()) {
      return absl::InvalidArgumentError("header: the first message must carry the header");
    }
    name_ = first.header().name();
    if (name_.size() > 1024) {
      return absl::InvalidArgumentError(
          StrCat("header.name: ", name_.size(), " bytes, at most 1024"));
    }
    UploadDeclaration declared{.sha256 = first.header().sha256(),
                               .size_bytes = first.header().size_bytes()};
    RETURN_IF_ERROR(ValidateDeclaration("header", declared, core()->options().max_upload_bytes));
    RETURN_IF_ERROR(core()->ReserveBytes(tenant_, declared.size_bytes));
    reserved_ = declared.size_bytes;
    return declared;
  }
  bool HasDeclaration(const v1::UploadDatasetRequest& request) const override {
    return request.has_header();
  }
  const std::string& ChunkOf(const v1::UploadDatasetRequest& request) const override {
    return request.chunk();
  }
  std::string_view DeclarationField() const override { return "header"; }
  void BeforeReply() override {
    core()->ReleaseBytes(tenant_, reserved_);
    reserved_ = 0;
  }
  void OnChunk(std::string_view chunk) override { detector_.Update(chunk); }

  absl::Status BeforeFinish() override {
    absl::StatusOr<std::string> format = detector_.Finish();
    if (!format.ok()) return Annotate(format.status(), StrCat("dataset '", name_, "'"));
    format_ = *std::move(format);
    return absl::OkStatus();
  }

  absl::Status OnComplete(const v1::BlobRef& blob, v1::Dataset* response) override {
    store::DatasetRecord record{.tenant = tenant_};
    v1::Dataset& dataset = record.dataset;
    dataset.set_id(DatasetId::New().value());
    dataset.set_name(name_);
    *dataset.mutable_blob() = blob;
    dataset.set_created_unix_ms(core()->clock()->NowMillis());
    dataset.set_format(format_);
    RETURN_IF_ERROR(core()->store()->CreateDataset(record));
    *response = std::move(dataset);
    return absl::OkStatus();
  }

  const std::string tenant_;
  std::string name_;
  std::string format_;
  int64_t reserved_ = 0;
  DatasetFormatDetector detector_;
};

}  // namespace

grpc::ServerReadReactor<v1::UploadDatasetRequest>* DatasetServiceImpl::UploadDataset(
    grpc::CallbackServerContext* context, v1::Dataset* response) {
  absl::StatusOr<Principal> caller = core_->auth().Authenticate(*context, Role::kUser);
  auto* reactor = new DatasetUploadReactor(core_, context, response,
                                           caller.ok() ? caller->tenant : std::string());
  reactor->Start(caller.status());
  return reactor;
}

grpc::ServerUnaryReactor* DatasetServiceImpl::GetDataset(grpc::CallbackServerContext* context,
                                                         const v1::GetDatasetRequest* request,
                                                         v1::Dataset* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    ASSIGN_OR_RETURN(DatasetId id, ParseIdField<DatasetId>("id", request->id()));
    ASSIGN_OR_RETURN(store::DatasetRecord record,
                     core_->store()->GetDataset(caller.tenant, id.value()));
    *response = std::move(record.dataset);
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* DatasetServiceImpl::ListDatasets(grpc::CallbackServerContext* context,
                                                           const v1::ListDatasetsRequest* request,
                                                           v1::ListDatasetsResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    ASSIGN_OR_RETURN(int page_size, ResolvePageSize(request->page_size()));
    ASSIGN_OR_RETURN(store::Page<store::DatasetRecord> page,
                     core_->store()->ListDatasets(caller.tenant, page_size, request->page_token()));
    for (store::DatasetRecord& record : page.items) {
      *response->add_datasets() = std::move(record.dataset);
    }
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* DatasetServiceImpl::DeleteDataset(grpc::CallbackServerContext* context,
                                                            const v1::DeleteDatasetRequest* request,
                                                            v1::DeleteDatasetResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    ASSIGN_OR_RETURN(DatasetId id, ParseIdField<DatasetId>("id", request->id()));
    return core_->store()->DeleteDataset(caller.tenant, id.value());
  }();
  return Reply(context, status);
}

}  // namespace mp::service
