#include "server/service/model_service.h"

#include <string>
#include <utility>

#include "server/service/rpc_util.h"
#include "server/service/upload.h"

namespace mp::service {
namespace {

class ModelUploadReactor final : public UploadReactor<v1::UploadModelRequest, v1::Model> {
 public:
  ModelUploadReactor(ServiceCore* core, grpc::CallbackServerContext* context, v1::Model* response,
                     std::string tenant)
      : UploadReactor(core, context, response), tenant_(std::move(tenant)) {}
  ~ModelUploadReactor() override { BeforeReply(); }

 private:
  absl::StatusOr<UploadDeclaration> OnFirst(const v1::UploadModelRequest& first) override {
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
  bool HasDeclaration(const v1::UploadModelRequest& request) const override {
    return request.has_header();
  }
  const std::string& ChunkOf(const v1::UploadModelRequest& request) const override {
    return request.chunk();
  }
  std::string_view DeclarationField() const override { return "header"; }
  void BeforeReply() override {
    core()->ReleaseBytes(tenant_, reserved_);
    reserved_ = 0;
  }

  absl::Status BeforeFinish() override {
    // The inspect job counts against the tenant's queue limit: refuse before the blob is
    // kept. (Submit checks again inside its transaction.)
    const int32_t limit = core()->queue()->options().max_queued_per_tenant;
    if (limit <= 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(int64_t queued,
                     core()->store()->CountTenantJobs(tenant_, v1::JOB_STATE_QUEUED));
    if (queued >= limit) {
      return absl::ResourceExhaustedError(StrCat("tenant '", tenant_, "' has ", queued,
                                                 " queued jobs, the limit is ", limit,
                                                 "; the upload's inspect job cannot be queued"));
    }
    return absl::OkStatus();
  }

  absl::Status OnComplete(const v1::BlobRef& blob, v1::Model* response) override {
    const ModelId model_id = ModelId::New();
    v1::SubmitJobRequest request;
    request.mutable_spec()->set_kind(v1::JOB_KIND_INSPECT);
    request.mutable_spec()->set_model_id(model_id.value());
    request.mutable_spec()->mutable_inspect();
    queue::SubmitExtras extras;
    extras.inputs["model"] = blob;
    store::ModelRecord record{.tenant = tenant_};
    extras.in_txn = [&](store::WriteTxn& txn, const v1::Job& job) {
      v1::Model& model = record.model;
      model.set_id(model_id.value());
      model.set_name(name_);
      *model.mutable_blob() = blob;
      model.set_created_unix_ms(txn.now_ms());
      model.set_inspect_job_id(job.id());
      return txn.InsertModel(record);
    };
    RETURN_IF_ERROR(core()->queue()->Submit(tenant_, request, std::move(extras)).status());
    *response = record.model;
    return absl::OkStatus();
  }

  const std::string tenant_;
  std::string name_;
  int64_t reserved_ = 0;
};

}  // namespace

grpc::ServerReadReactor<v1::UploadModelRequest>* ModelServiceImpl::UploadModel(
    grpc::CallbackServerContext* context, v1::Model* response) {
  absl::StatusOr<Principal> caller = core_->auth().Authenticate(*context, Role::kUser);
  auto* reactor = new ModelUploadReactor(core_, context, response,
                                         caller.ok() ? caller->tenant : std::string());
  reactor->Start(caller.status());
  return reactor;
}

grpc::ServerUnaryReactor* ModelServiceImpl::GetModel(grpc::CallbackServerContext* context,
                                                     const v1::GetModelRequest* request,
                                                     v1::Model* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    ASSIGN_OR_RETURN(ModelId id, ParseIdField<ModelId>("id", request->id()));
    ASSIGN_OR_RETURN(store::ModelRecord record,
                     core_->store()->GetModel(caller.tenant, id.value()));
    *response = std::move(record.model);
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* ModelServiceImpl::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* request,
                                                       v1::ListModelsResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    ASSIGN_OR_RETURN(int page_size, ResolvePageSize(request->page_size()));
    ASSIGN_OR_RETURN(store::Page<store::ModelRecord> page,
                     core_->store()->ListModels(caller.tenant, page_size, request->page_token()));
    for (store::ModelRecord& record : page.items) {
      *response->add_models() = std::move(record.model);
    }
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* ModelServiceImpl::DeleteModel(grpc::CallbackServerContext* context,
                                                        const v1::DeleteModelRequest* request,
                                                        v1::DeleteModelResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    ASSIGN_OR_RETURN(ModelId id, ParseIdField<ModelId>("id", request->id()));
    return core_->store()->DeleteModel(caller.tenant, id.value());
  }();
  return Reply(context, status);
}

}  // namespace mp::service
