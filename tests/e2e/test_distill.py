"""End to end: a DISTILL job with quantization-aware training through the service. The CLI
uploads lenet and a small Fashion-MNIST slice (local files), submits `modelpress distill ...
--alpha 0 --qat-epochs 1`, and watches it; a local worker runs the distill recipe. The explicit
alpha 0 reaches the recipe (not the 0.7 default), the int8 student is an artifact that
`modelpress download --artifact int8_model` fetches, and ONNX Runtime scores it what the job
reported.
"""

import json
import sys

import e2e_lib as lib

lib.init()

from e2e_fashion import FashionJobTestCase  # noqa: E402

import numpy as np  # noqa: E402

TRAIN = 384  # Fashion-MNIST training images (1 epoch of distillation, 1 of QAT)
EVAL = 256   # test images used for evaluation


class DistillTest(FashionJobTestCase):
    TRAIN = TRAIN
    EVAL = EVAL

    def test_distill_with_qat(self):
        cli = lambda *args, **kw: lib.run_cli(self.server.address, *args, **kw)  # noqa: E731
        data = ["--data", self.train_path, "--labels", self.train_labels_path]
        # Bad QAT options are refused (exit 2), by the CLI naming the flag or at submit time
        # naming the field (INVALID_ARGUMENT); nothing is submitted.
        bad = cli("distill", self.lenet_path, *data, "--qat-target", "riscv", check=False)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("--qat-target", bad.stderr)
        bad = cli("distill", self.lenet_path, *data, "--qat-lr", "0.001", check=False)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("spec.distill.qat_lr: only used with qat_epochs > 0", bad.stderr)

        run = cli("distill", self.lenet_path, *data, "--eval-data", self.eval_path,
                  "--eval-labels", self.eval_labels_path, "--student-width", "0.5",
                  "--keep-weights", "--alpha", "0", "--epochs", "1", "--qat-epochs", "1",
                  "--batch-size", "32", "--lr", "0.002", "--latency-iterations", "3",
                  "--seed", "5", "--watch")
        job_id = run.stdout.splitlines()[0].strip()
        self.assertRegex(job_id, r"^job_[0-9a-f]{16}$")

        client = lib.Client(self.server.address)
        self.addCleanup(client.close)
        job = client.get_job(job_id)
        self.assertEqual(lib.state_name(job.state), "JOB_STATE_SUCCEEDED", job)
        # alpha is optional: the explicit 0 is stored as set (unset would mean 0.7).
        self.assertTrue(job.spec.distill.HasField("alpha"))
        self.assertEqual(job.spec.distill.alpha, 0)
        self.assertEqual(job.spec.distill.qat_epochs, 1)
        self.assertLessEqual({"model", "report", "int8_model", "ranges"},
                             {a.name for a in job.artifacts})

        report_path = self.path("report.json")
        cli("download", job_id, "--artifact", "report", "-o", report_path)
        with open(report_path) as f:
            report = json.load(f)
        self.assertEqual(report["options"]["alpha"], 0, "the explicit 0 reached the recipe")
        ranges_path = self.path("ranges.json")
        cli("download", job_id, "--artifact", "ranges", "-o", ranges_path)
        with open(ranges_path) as f:
            ranges = json.load(f)
        self.assertTrue(ranges, "QAT learned some activation ranges")

        int8_path = self.path("student.int8.onnx")
        cli("download", job_id, "--artifact", "int8_model", "-o", int8_path)
        with open(int8_path, "rb") as f:
            int8 = f.read()
        import onnx
        ops = {n.op_type for n in onnx.load_from_string(int8).graph.node}
        self.assertIn("QuantizeLinear", ops)
        self.assertIn("DequantizeLinear", ops)

        metrics = lib.metrics_of(job)
        for name in ("student_accuracy_after", "student_accuracy_int8",
                     "student_accuracy_int8_ptq", "int8_model_bytes"):
            self.assertIn(name, metrics)
        self.assertEqual(metrics["int8_model_bytes"], len(int8))
        # What the service reports for the int8 student is what ONNX Runtime computes for it
        # (one sample of slack, as for PTQ jobs).
        logits = self.run_ort(int8_path, "int8")
        ort_acc = float(np.mean(logits.argmax(1) == self.eval_y))
        print(f"job {job_id}: metrics {metrics}; ONNX Runtime accuracy int8 {ort_acc:.4f}",
              file=sys.stderr)
        self.assertAlmostEqual(metrics["student_accuracy_int8"], ort_acc,
                               delta=1.0 / EVAL + 1e-9)
        # A half-width student keeping lenet's weights stays well above 10% chance.
        self.assertGreater(ort_acc, 0.5)


if __name__ == "__main__":
    lib.main()
