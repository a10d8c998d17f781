"""End to end: upload -> ptq -> watch -> download, from the CLI and from a Python client that
uses only the generated stubs; the downloaded int8 model runs in ONNX Runtime, and the
accuracy the job reports is the one ONNX Runtime computes for it. Also: the upload's inspect
job fills Model.inspection, and authentication is enforced (server started with --tokens).
"""

import json
import os
import subprocess
import sys

import e2e_lib as lib

PATHS = lib.init()

import numpy as np  # noqa: E402

TOKEN = "tok-alice-0123456789"
CALIB = 128  # Fashion-MNIST training images used for calibration
EVAL = 256   # test images used for evaluation


class FlowTest(lib.E2ETestCase):

    def setUp(self):
        super().setUp()
        tokens = self.write("tokens.txt", f"# test tokens\n{TOKEN} alice user\n".encode())
        self.server = lib.Server(self.path("data"), self.tmp, local_workers=1,
                                 tokens_file=tokens, worker_threads=2).start()
        calib, _ = lib.fashion_mnist("train", 0, CALIB)
        self.eval_x, self.eval_y = lib.fashion_mnist("t10k", 0, EVAL)
        self.calib_path = self.write("calib.npy", lib.npy_bytes(calib))
        self.eval_path = self.write("eval.npy", lib.npy_bytes(self.eval_x))
        self.labels_path = self.write("labels.npy", lib.npy_bytes(self.eval_y))
        self.lenet = lib.fixture_model("lenet.onnx")
        self.lenet_path = self.write("lenet.onnx", self.lenet)

    # ---- checks shared by both clients -----------------------------------------------------

    def check_inspection(self, client, model_id):
        model = client.get_model(model_id)
        self.assertTrue(model.inspect_job_id, model)
        job = client.wait_job(model.inspect_job_id, timeout=60)
        self.assertEqual(lib.state_name(job.state), "JOB_STATE_SUCCEEDED", job)
        model = client.get_model(model_id)
        inspection = model.inspection
        self.assertEqual(inspection.opset, 13)
        self.assertEqual(inspection.parameter_count, 61706)  # fixtures/models/README.md
        self.assertEqual([t.name for t in inspection.inputs], ["input"])
        self.assertEqual(list(inspection.inputs[0].dims)[1:], [1, 28, 28])
        self.assertEqual([t.name for t in inspection.outputs], ["logits"])
        self.assertEqual(dict(inspection.op_counts),
                         {"Conv": 2, "Relu": 4, "MaxPool": 2, "Flatten": 1, "Gemm": 3})
        self.assertEqual(list(inspection.unsupported_ops), [])
        return model

    def run_ort(self, model_path, tag):
        out_dir = self.path(f"ort_{tag}")
        os.makedirs(out_dir)
        result = subprocess.run(
            [PATHS.node, os.path.join(PATHS.source_dir, "tests", "ort", "run_ort.js"),
             "--model", model_path, "--input", f"input={self.eval_path}",
             "--output-dir", out_dir], capture_output=True, text=True, timeout=180)
        self.assertEqual(result.returncode, 0,
                         f"ONNX Runtime could not run {model_path}:\n{result.stderr}")
        logits = np.load(os.path.join(out_dir, "logits.npy"))
        self.assertEqual(logits.shape, (EVAL, 10))
        self.assertTrue(np.all(np.isfinite(logits)))
        return logits

    def check_artifact(self, model_bytes, job):
        """The int8 model: QDQ, smaller, loads and runs in ONNX Runtime, and scores there what
        the job reported."""
        import onnx
        path = self.write(f"{job.id}.onnx", model_bytes)
        model = onnx.load_from_string(model_bytes)
        ops = {n.op_type for n in model.graph.node}
        self.assertIn("QuantizeLinear", ops)
        self.assertIn("DequantizeLinear", ops)
        self.assertLess(len(model_bytes), len(self.lenet) // 2,
                        "int8 weights should make the model much smaller than fp32")
        int8_logits = self.run_ort(path, job.id)
        fp32_logits = self.run_ort(self.lenet_path, f"{job.id}_fp32")
        ort_int8_acc = float(np.mean(int8_logits.argmax(1) == self.eval_y))
        ort_fp32_acc = float(np.mean(fp32_logits.argmax(1) == self.eval_y))
        agreement = float(np.mean(int8_logits.argmax(1) == fp32_logits.argmax(1)))
        self.assertGreaterEqual(agreement, 0.95, "int8 and fp32 top-1 should mostly agree")
        metrics = lib.metrics_of(job)
        print(f"job {job.id}: metrics {metrics}; ONNX Runtime accuracy int8 {ort_int8_acc:.4f} "
              f"fp32 {ort_fp32_acc:.4f}, top-1 agreement {agreement:.4f}", file=sys.stderr)
        self.assertIn("accuracy_quantized", metrics)
        self.assertIn("accuracy_fp32", metrics)
        # What the service reports is what the deployment runtime computes (DESIGN.md §5);
        # the fp32 figure is float arithmetic in two engines: one sample of slack for both.
        self.assertAlmostEqual(metrics["accuracy_quantized"], ort_int8_acc,
                               delta=1.0 / EVAL + 1e-9)
        self.assertAlmostEqual(metrics["accuracy_fp32"], ort_fp32_acc, delta=1.0 / EVAL + 1e-9)
        self.assertEqual(metrics["model_bytes_quantized"], len(model_bytes))
        self.assertEqual(metrics["model_bytes_fp32"], len(self.lenet))

    # ---- the tests -------------------------------------------------------------------------

    def test_cli(self):
        addr = self.server.address
        cli = lambda *args, **kw: lib.run_cli(addr, *args, token=TOKEN, **kw)  # noqa: E731

        # Without the token the server refuses (exit status 4: UNAUTHENTICATED).
        denied = lib.run_cli(addr, "models", check=False)
        self.assertEqual(denied.returncode, 4, denied.stderr)

        model_id = cli("upload", self.lenet_path, "--wait").stdout.strip()
        self.assertRegex(model_id, r"^model_[0-9a-f]{16}$")
        client = lib.Client(addr, TOKEN)
        self.addCleanup(client.close)
        self.check_inspection(client, model_id)
        shown = json.loads(cli("show-model", model_id, json_out=True).stdout)
        self.assertEqual(shown["id"], model_id)
        self.assertIn("inspection", shown)

        calib_id = cli("upload-data", self.calib_path).stdout.strip()
        self.assertRegex(calib_id, r"^data_[0-9a-f]{16}$")
        self.assertIn(calib_id, cli("datasets").stdout)
        self.assertIn(model_id, cli("models").stdout)

        # eval and labels as local files: the CLI uploads them first.
        ptq = cli("ptq", model_id, "--calib", calib_id, "--eval", self.eval_path,
                  "--labels", self.labels_path, "--target", "x86_avx2", "--seed", "7",
                  "--watch")
        job_id = ptq.stdout.splitlines()[0].strip()
        self.assertRegex(job_id, r"^job_[0-9a-f]{16}$")
        self.assertIn("uploaded", ptq.stderr)

        # watch of a finished job replays its events and exits 0 (SUCCEEDED).
        watched = cli("watch", job_id)
        self.assertTrue(watched.stdout.strip())
        job_json = json.loads(cli("show", job_id, json_out=True).stdout)
        self.assertEqual(job_json["state"], "JOB_STATE_SUCCEEDED", job_json)
        self.assertIn(job_id, cli("jobs", "--state", "succeeded", "--kind", "ptq").stdout)

        out = self.path("lenet.int8.onnx")
        cli("download", job_id, "-o", out)
        with open(out, "rb") as f:
            model_bytes = f.read()
        job = client.get_job(job_id)
        self.assertEqual(lib.state_name(job.state), "JOB_STATE_SUCCEEDED")
        self.assertEqual(job.spec.seed, 7)
        self.assertTrue(job.engine_version)
        self.assertEqual(set(job.inputs), {"model", "calibration", "eval", "eval_labels"})
        self.assertEqual(job.inputs["model"].size_bytes, len(self.lenet))
        self.assertLessEqual({"model", "report"}, {a.name for a in job.artifacts})
        report = self.path("report.json")
        cli("download", job_id, "--artifact", "report", "-o", report)
        with open(report) as f:
            json.load(f)  # a JSON report
        self.check_artifact(model_bytes, job)

    def test_python_client(self):
        c = lib.v1
        client = lib.Client(self.server.address, TOKEN)
        self.addCleanup(client.close)
        anonymous = lib.Client(self.server.address)
        self.addCleanup(anonymous.close)
        with self.assertRaises(lib.grpc.RpcError) as denied:
            anonymous.jobs.ListJobs(c.job_pb2.ListJobsRequest(), timeout=30)
        self.assertEqual(denied.exception.code(), lib.grpc.StatusCode.UNAUTHENTICATED)

        model = lib.upload_model(client, self.lenet, "lenet.onnx")
        self.assertEqual(model.blob.size_bytes, len(self.lenet))
        self.check_inspection(client, model.id)
        with open(self.calib_path, "rb") as f:
            calib = lib.upload_dataset(client, f.read(), "calib.npy")
        with open(self.eval_path, "rb") as f:
            evals = lib.upload_dataset(client, f.read(), "eval.npy")
        with open(self.labels_path, "rb") as f:
            labels = lib.upload_dataset(client, f.read(), "labels.npy")
        self.assertEqual(calib.format, "npy")

        spec = c.job_pb2.JobSpec(
            kind=c.common_pb2.JOB_KIND_PTQ, model_id=model.id, seed=7,
            ptq=c.job_pb2.PtqSpec(calibration_dataset_id=calib.id, eval_dataset_id=evals.id,
                                  eval_labels_dataset_id=labels.id, target="x86_avx2"))
        job = client.submit(spec, key="python-flow-1")
        self.assertEqual(lib.state_name(job.state), "JOB_STATE_QUEUED")

        events = client.watch(job.id, timeout=240)
        self.assertEqual([e.sequence for e in events], list(range(1, len(events) + 1)),
                         "event sequences are dense from 1")
        self.assertEqual(lib.state_name(events[-1].state), "JOB_STATE_SUCCEEDED",
                         events[-1])
        running = [e for e in events if lib.state_name(e.state) == "JOB_STATE_RUNNING"]
        self.assertTrue(any(e.step for e in running), "progress events name their step")
        progress = [e.progress for e in running]
        self.assertEqual(progress, sorted(progress), "progress never decreases")

        job = client.get_job(job.id)
        self.assertEqual(job.attempts, 1)
        self.assertGreater(job.finished_unix_ms, 0)
        model_bytes = client.download(job.id, "model")
        self.check_artifact(model_bytes, job)


if __name__ == "__main__":
    lib.main()
