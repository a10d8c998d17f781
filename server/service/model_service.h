// ModelService: upload, get, list and delete ONNX models (model.proto).
//
// UploadModel streams the bytes into the blob store (upload.h) and then, in ONE write
// transaction, creates the model row and submits its `inspect` job (JobSpec{INSPECT,
// model_id}, inputs {"model": blob}), so a model never exists without its inspect job.
// The server never parses the model: the worker running the inspect job does, and fills
// Model.inspection. The per-tenant queue limit is checked before the blob is made durable,
// so an upload refused for a full queue keeps nothing.
#ifndef MP_SERVER_SERVICE_MODEL_SERVICE_H_
#define MP_SERVER_SERVICE_MODEL_SERVICE_H_

#include "modelpress/v1/model.grpc.pb.h"
#include "server/service/core.h"

namespace mp::service {

class ModelServiceImpl final : public v1::ModelService::CallbackService {
 public:
  explicit ModelServiceImpl(ServiceCore* core) : core_(core) {}

  grpc::ServerReadReactor<v1::UploadModelRequest>* UploadModel(grpc::CallbackServerContext* context,
                                                               v1::Model* response) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const v1::GetModelRequest* request,
                                     v1::Model* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteModel(grpc::CallbackServerContext* context,
                                        const v1::DeleteModelRequest* request,
                                        v1::DeleteModelResponse* response) override;

 private:
  ServiceCore* const core_;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_MODEL_SERVICE_H_
