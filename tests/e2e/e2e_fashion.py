"""Shared set-up of the end-to-end tests of the training job kinds (prune, distill): a server
with one local worker, lenet and a small Fashion-MNIST slice written as local files, and a
helper that scores a model with ONNX Runtime on the evaluation slice. Import after
e2e_lib.init().
"""

import os
import subprocess

import e2e_lib as lib


class FashionJobTestCase(lib.E2ETestCase):
    """Subclasses set TRAIN and EVAL (image counts)."""

    TRAIN = 384  # Fashion-MNIST training images
    EVAL = 256   # test images used for evaluation

    def setUp(self):
        super().setUp()
        self.server = lib.Server(self.path("data"), self.tmp, local_workers=1,
                                 worker_threads=2).start()
        train_x, train_y = lib.fashion_mnist("train", 0, self.TRAIN)
        self.eval_x, self.eval_y = lib.fashion_mnist("t10k", 0, self.EVAL)
        self.train_path = self.write("train.npy", lib.npy_bytes(train_x))
        self.train_labels_path = self.write("train_labels.npy", lib.npy_bytes(train_y))
        self.eval_path = self.write("eval.npy", lib.npy_bytes(self.eval_x))
        self.eval_labels_path = self.write("eval_labels.npy", lib.npy_bytes(self.eval_y))
        self.lenet = lib.fixture_model("lenet.onnx")
        self.lenet_path = self.write("lenet.onnx", self.lenet)

    def run_ort(self, model_path, tag):
        """Logits [EVAL, 10] of ONNX Runtime (tests/ort/run_ort.js) on the evaluation slice."""
        import numpy as np
        out_dir = self.path(f"ort_{tag}")
        os.makedirs(out_dir)
        result = subprocess.run(
            [lib.PATHS.node, os.path.join(lib.PATHS.source_dir, "tests", "ort", "run_ort.js"),
             "--model", model_path, "--input", f"input={self.eval_path}",
             "--output-dir", out_dir], capture_output=True, text=True, timeout=180)
        self.assertEqual(result.returncode, 0,
                         f"ONNX Runtime could not run {model_path}:\n{result.stderr}")
        logits = np.load(os.path.join(out_dir, "logits.npy"))
        self.assertEqual(logits.shape, (self.EVAL, 10))
        return logits
