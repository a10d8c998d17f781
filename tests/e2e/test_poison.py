"""Fault: poison jobs. A job that brings down its worker on every attempt ends DEAD after
max_attempts, the server restarts the local workers that die (--local-workers), and jobs
queued behind the poison still complete.

Two realistic poisons, both valid ONNX models built here with python3-onnx and run as ptq
jobs by the server's own local workers (worker limits passed with --worker-arg):

  - test_memory_poison: a model with a 1 GiB intermediate (independent of the batch) under
    --max-memory-mb 768. The engine turns the failed allocation into RESOURCE_EXHAUSTED, so
    the worker survives and fails the job as retryable each time; the job still ends DEAD.
    Then the local worker is killed with SIGKILL: the server starts a new one, which runs
    the next job. (Skipped under AddressSanitizer, which cannot run under RLIMIT_AS.)
  - test_hang_poison: a model whose calibration takes far longer than --max-job-seconds; the
    watchdog fails the attempt and ends the worker process (exit 75) every time, and the
    server's supervisor starts a new one.
"""

import os
import signal

import numpy as np

import e2e_lib as lib

PATHS = lib.init()

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

MAX_ATTEMPTS = 3


def memory_poison_model():
    """logits = Gemm(Flatten(input)) + 0 * ReduceSum(Expand(ReduceMean(input), [16384,16384]))
    The Expand output is float32 [16384, 16384] = 1 GiB whatever the batch size."""
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(rng.standard_normal((784, 10)).astype(np.float32) * 0.01, "w"),
        numpy_helper.from_array(np.zeros(10, np.float32), "b"),
        numpy_helper.from_array(np.array([16384, 16384], np.int64), "big_shape"),
        numpy_helper.from_array(np.array([0, 1], np.int64), "all_axes"),
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w", "b"], ["dense"]),
        helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=0),
        helper.make_node("Expand", ["mean", "big_shape"], ["huge"]),
        helper.make_node("ReduceSum", ["huge", "all_axes"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["dense", "nothing"], ["logits"]),
    ]
    return _model(nodes, inits, "memory_poison")


def slow_model(convs=6, channels=192):
    """Conv 1->C then `convs` x (Conv CxC 3x3 + Relu) on 28x28, GAP, Gemm to 10 logits:
    about 0.6 GFLOP per conv per sample, so calibrating 64 samples takes minutes."""
    rng = np.random.default_rng(2)
    inits, nodes = [], []
    prev, cin = "input", 1
    for i in range(convs + 1):
        w = (rng.standard_normal((channels, cin, 3, 3)) / np.sqrt(cin * 9)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        prev, cin = f"r{i}", channels
    inits.append(numpy_helper.from_array(
        (rng.standard_normal((channels, 10)) * 0.1).astype(np.float32), "fc"))
    inits.append(numpy_helper.from_array(np.zeros(10, np.float32), "fc_b"))
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["gap"]),
              helper.make_node("Flatten", ["gap"], ["feat"], axis=1),
              helper.make_node("Gemm", ["feat", "fc", "fc_b"], ["logits"])]
    return _model(nodes, inits, "slow")


def _model(nodes, inits, name):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="modelpress-e2e")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model.SerializeToString()


class PoisonTest(lib.E2ETestCase):

    def run_poison(self, poison_bytes, worker_args):
        c = lib.v1.common_pb2
        server = lib.Server(self.path("data"), self.tmp, local_workers=1, lease_ttl_ms=3000,
                            max_attempts=MAX_ATTEMPTS,
                            extra_args=[f"--worker-arg={a}" for a in worker_args]).start()
        client = lib.Client(server.address)
        self.addCleanup(client.close)
        first_workers = lib.wait_until(server.worker_pids, 30, "the local worker")

        calib, _ = lib.fashion_mnist("train", 0, 64)
        calib_ds = lib.upload_dataset(client, lib.npy_bytes(calib), "calib.npy")
        poison_model = lib.upload_model(client, poison_bytes, "poison.onnx")
        good_model = lib.upload_model(client, lib.fixture_model("mlp.onnx"), "mlp.onnx")
        poison = client.submit(lib.v1.job_pb2.JobSpec(
            kind=c.JOB_KIND_PTQ, model_id=poison_model.id, seed=5,
            ptq=lib.v1.job_pb2.PtqSpec(calibration_dataset_id=calib_ds.id,
                                       skip_sensitivity=True)), priority=10)
        behind = [client.submit(lib.inspect_spec(good_model.id), key=f"behind-{i}")
                  for i in range(3)]

        dead = client.wait_job(poison.id, timeout=180)
        self.assertEqual(lib.state_name(dead.state), "JOB_STATE_DEAD", dead)
        self.assertEqual(dead.attempts, MAX_ATTEMPTS)
        self.assertTrue(dead.error, "a DEAD job says why")
        events = client.watch(poison.id, timeout=30)
        leases = [e for e in events if lib.state_name(e.state) == "JOB_STATE_RUNNING"
                  and not e.step]
        print(f"poison job error: {dead.error!r}; events: "
              f"{[(lib.state_name(e.state), e.step, e.log) for e in events]}")
        self.assertGreaterEqual(len(leases), 1)

        for job in behind + [client.get_job(poison_model.inspect_job_id),
                             client.get_job(good_model.inspect_job_id)]:
            done = client.wait_job(job.id, timeout=120)
            self.assertEqual(lib.state_name(done.state), "JOB_STATE_SUCCEEDED", done)
        self.assertFalse(client.get_model(poison_model.id).inspection.unsupported_ops,
                         "the poison is a valid model the engine supports")
        # A local worker is running at the end, whatever happened to the first one.
        workers = lib.wait_until(server.worker_pids, 30, "a local worker after the poison")
        self.assertEqual(len(workers), 1)
        return server, dead, first_workers, workers

    def test_memory_poison(self):
        if PATHS.sanitized:
            self.skipTest("--max-memory-mb (RLIMIT_AS) is not usable under AddressSanitizer")
        server, dead, first, last = self.run_poison(
            memory_poison_model(), ["--max-memory-mb=768"])
        self.assertIn("cannot allocate", dead.error)
        # The engine reports the failed allocation: the worker process itself survived.
        self.assertEqual(first, last, "the worker should survive a failed allocation")

        # A local worker that dies of a signal is replaced too, and the new one runs jobs.
        os.kill(last[0], signal.SIGKILL)
        replaced = lib.wait_until(lambda: [p for p in server.worker_pids() if p not in last],
                                  30, "the server to restart its killed worker")
        self.assertEqual(len(replaced), 1)
        client = lib.Client(server.address)
        self.addCleanup(client.close)
        model = lib.upload_model(client, lib.fixture_model("lenet.onnx"), "lenet.onnx")
        done = client.wait_job(model.inspect_job_id, timeout=120)
        self.assertEqual(lib.state_name(done.state), "JOB_STATE_SUCCEEDED", done)
        self.assertEqual(server.stop(), 0)

    def test_hang_poison(self):
        server, dead, first, last = self.run_poison(slow_model(), ["--max-job-seconds=2"])
        self.assertNotEqual(first, last, "the watchdog ends the worker; the server restarts it")
        self.assertFalse(set(first) & set(last))
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    lib.main()
