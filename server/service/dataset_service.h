// DatasetService: upload, get, list and delete datasets (model.proto).
//
// UploadDataset has UploadModel's streaming contract (upload.h); the format is detected
// from the content as it streams (dataset_format.h: npy, idx, idx.gz, onnx_tensor) and an
// unrecognized format is INVALID_ARGUMENT before the blob is kept.
#ifndef MP_SERVER_SERVICE_DATASET_SERVICE_H_
#define MP_SERVER_SERVICE_DATASET_SERVICE_H_

#include "modelpress/v1/model.grpc.pb.h"
#include "server/service/core.h"

namespace mp::service {

class DatasetServiceImpl final : public v1::DatasetService::CallbackService {
 public:
  explicit DatasetServiceImpl(ServiceCore* core) : core_(core) {}

  grpc::ServerReadReactor<v1::UploadDatasetRequest>* UploadDataset(
      grpc::CallbackServerContext* context, v1::Dataset* response) override;
  grpc::ServerUnaryReactor* GetDataset(grpc::CallbackServerContext* context,
                                       const v1::GetDatasetRequest* request,
                                       v1::Dataset* response) override;
  grpc::ServerUnaryReactor* ListDatasets(grpc::CallbackServerContext* context,
                                         const v1::ListDatasetsRequest* request,
                                         v1::ListDatasetsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteDataset(grpc::CallbackServerContext* context,
                                          const v1::DeleteDatasetRequest* request,
                                          v1::DeleteDatasetResponse* response) override;

 private:
  ServiceCore* const core_;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_DATASET_SERVICE_H_
