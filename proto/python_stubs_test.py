#!/usr/bin/python3
"""Checks that the generated Python stubs import with Debian's grpcio and expose the API."""
import sys

sys.path.insert(0, sys.argv[1])

from modelpress.v1 import common_pb2, job_pb2, job_pb2_grpc, model_pb2_grpc, worker_pb2_grpc  # noqa: E402

spec = job_pb2.JobSpec(kind=common_pb2.JOB_KIND_PTQ, model_id="model_0123456789abcdef")
spec.ptq.calibrator = "entropy"
back = job_pb2.JobSpec.FromString(spec.SerializeToString())
assert back.ptq.calibrator == "entropy", back
assert back.WhichOneof("options") == "ptq"
for module, stub in ((model_pb2_grpc, "ModelServiceStub"), (model_pb2_grpc, "DatasetServiceStub"),
                     (job_pb2_grpc, "JobServiceStub"), (worker_pb2_grpc, "WorkerServiceStub")):
    assert hasattr(module, stub), stub
print("python stubs ok")
