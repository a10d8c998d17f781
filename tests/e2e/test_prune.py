"""End to end: a PRUNE job with recovery through the service. The CLI uploads lenet and a
small Fashion-MNIST slice (local files), submits `modelpress prune ... --recover finetune`,
and watches it; a local worker runs the prune recipe. The downloaded pruned model is smaller,
runs in ONNX Runtime, and scores there what the job reported.
"""

import json
import sys

import e2e_lib as lib

lib.init()

from e2e_fashion import FashionJobTestCase  # noqa: E402

import numpy as np  # noqa: E402

TRAIN = 384  # Fashion-MNIST training images used for recovery (1 epoch)
EVAL = 256   # test images used for evaluation


class PruneTest(FashionJobTestCase):
    TRAIN = TRAIN
    EVAL = EVAL

    def test_prune_with_recovery(self):
        cli = lambda *args, **kw: lib.run_cli(self.server.address, *args, **kw)  # noqa: E731
        # Bad options are refused at submit time, naming the field (exit 2: INVALID_ARGUMENT).
        bad = cli("prune", self.lenet_path, "--sparsity", "1.5", check=False)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("spec.prune.sparsity: must be in [0, 1), got 1.5", bad.stderr)

        run = cli("prune", self.lenet_path, "--data", self.train_path,
                  "--labels", self.train_labels_path, "--eval-data", self.eval_path,
                  "--eval-labels", self.eval_labels_path, "--method", "structured",
                  "--sparsity", "0.5", "--recover", "finetune", "--epochs", "1",
                  "--batch-size", "32", "--lr", "0.002", "--latency-iterations", "3",
                  "--seed", "5", "--watch")
        job_id = run.stdout.splitlines()[0].strip()
        self.assertRegex(job_id, r"^job_[0-9a-f]{16}$")
        self.assertEqual(run.stderr.count("uploaded"), 5, run.stderr)  # model + 4 datasets

        client = lib.Client(self.server.address)
        self.addCleanup(client.close)
        job = client.get_job(job_id)
        self.assertEqual(lib.state_name(job.state), "JOB_STATE_SUCCEEDED", job)
        self.assertEqual(job.spec.seed, 5)
        self.assertEqual(job.spec.prune.recover, "finetune")
        self.assertEqual(set(job.inputs),
                         {"model", "train", "train_labels", "eval", "eval_labels"})
        self.assertEqual(job.inputs["model"].size_bytes, len(self.lenet))
        self.assertLessEqual({"model", "report"}, {a.name for a in job.artifacts})
        self.assertIn(job_id, cli("jobs", "--kind", "prune").stdout)

        # Progress events name their step and never go back.
        events = client.watch(job_id, timeout=60)
        running = [e for e in events if lib.state_name(e.state) == "JOB_STATE_RUNNING"]
        self.assertTrue(any(e.step for e in running))
        progress = [e.progress for e in running]
        self.assertEqual(progress, sorted(progress), "progress never decreases")

        out = self.path("lenet.pruned.onnx")
        cli("download", job_id, "-o", out)
        with open(out, "rb") as f:
            pruned = f.read()
        report_path = self.path("report.json")
        cli("download", job_id, "--artifact", "report", "-o", report_path)
        with open(report_path) as f:
            report = json.load(f)
        self.assertEqual(len(report["curve"]), 1, "one recovery epoch")

        metrics = lib.metrics_of(job)
        # Structured pruning at 0.5 removes channels: fewer MACs and a smaller file.
        self.assertLess(metrics["macs_after"], metrics["macs_before"])
        self.assertLess(len(pruned), len(self.lenet))
        self.assertEqual(metrics["model_bytes"], len(pruned))

        # The accuracy the job reports is what ONNX Runtime computes for the pruned model
        # (float arithmetic in two engines: one sample of slack).
        logits = self.run_ort(out, "pruned")
        ort_acc = float(np.mean(logits.argmax(1) == self.eval_y))
        fp32_acc = float(np.mean(self.run_ort(self.lenet_path, "fp32").argmax(1) == self.eval_y))
        print(f"job {job_id}: metrics {metrics}; ONNX Runtime accuracy pruned {ort_acc:.4f} "
              f"original {fp32_acc:.4f}", file=sys.stderr)
        self.assertAlmostEqual(metrics["accuracy_after"], ort_acc, delta=1.0 / EVAL + 1e-9)
        self.assertAlmostEqual(metrics["accuracy_before"], fp32_acc, delta=1.0 / EVAL + 1e-9)
        # One epoch on a few hundred samples recovers a useful model (well above 10% chance).
        self.assertGreater(ort_acc, 0.5)


if __name__ == "__main__":
    lib.main()
