#!/usr/bin/python3
"""The PTQ accuracy table of issue 4: our ptq per calibrator vs fp32, and ONNX Runtime's
agreement with our integer execution of each exported model.

    /usr/bin/python3 tests/ptq/measure.py --worker build/release/workers/modelpress-worker \
        [--models mlp lenet resnet mobilenet] [--calibrators minmax entropy mse percentile] \
        [--out /tmp/ptq_measure]

For each (model, calibrator): `modelpress-worker ptq` with the first 1000 Fashion-MNIST
training images as calibration and the 10k test set for evaluation (--no-sensitivity), then
`modelpress-worker run` (our engine) and tests/ort/run_ort.js (ONNX Runtime) on the 10k test
images with the exported model; prints fp32 / int8 top-1 (from the report) and the fraction
of test images where ONNX Runtime's argmax equals ours. Run torch_ptq.py for PyTorch's column.
"""

import argparse
import gzip
import json
import os
import subprocess

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"


def test_images(path):
    if not os.path.exists(path):
        with gzip.open(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")) as f:
            raw = f.read()
        x = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28)
        np.save(path, x.astype(np.float32) / np.float32(255))
    return path


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--worker", required=True)
    p.add_argument("--models", nargs="*", default=["mlp", "lenet", "resnet", "mobilenet"])
    p.add_argument("--calibrators", nargs="*", default=["minmax", "entropy", "mse", "percentile"])
    p.add_argument("--out", default="/tmp/ptq_measure")
    p.add_argument("--threads", default="2")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    images = test_images(os.path.join(args.out, "t10k.npy"))
    rows = []
    for model in args.models:
        for cal in args.calibrators:
            tag = f"{model}_{cal}"
            out = os.path.join(args.out, tag + ".onnx")
            report = os.path.join(args.out, tag + ".json")
            subprocess.run([args.worker, "ptq", "--model",
                            os.path.join(REPO, "tests/fixtures/models", model + ".onnx"),
                            "--calib", os.path.join(DATA, "train-images-idx3-ubyte.gz"),
                            "--calib-samples", "1000",
                            "--eval", os.path.join(DATA, "t10k-images-idx3-ubyte.gz"),
                            "--labels", os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"),
                            "--calibrator", cal, "--no-sensitivity", "--quiet",
                            "--latency-batch", "1", "--latency-batch", "64",
                            "--threads", args.threads, "-o", out, "--report", report],
                           check=True, stdout=subprocess.DEVNULL)
            ours_dir = os.path.join(args.out, tag + "_ours")
            ort_dir = os.path.join(args.out, tag + "_ort")
            subprocess.run([args.worker, "run", "--model", out, "--input", "input=" + images,
                            "--output-dir", ours_dir, "--threads", args.threads], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run(["node", os.path.join(REPO, "tests/ort/run_ort.js"), "--model", out,
                            "--input", "input=" + images, "--output-dir", ort_dir], check=True,
                           stdout=subprocess.DEVNULL)
            ours = np.load(os.path.join(ours_dir, "logits.npy")).argmax(1)
            ort = np.load(os.path.join(ort_dir, "logits.npy")).argmax(1)
            with open(report) as f:
                r = json.load(f)
            m = r["metrics"]
            row = dict(model=model, calibrator=cal, fp32=m["accuracy_fp32"],
                       int8=m["accuracy_quantized"], ort_agreement=float((ours == ort).mean()),
                       bytes_fp32=m["model_bytes_fp32"], bytes_int8=m["model_bytes_quantized"],
                       lat1_fp32=m["latency_ms_batch1_fp32"],
                       lat1_int8=m["latency_ms_batch1_quantized"],
                       lat64_fp32=m["latency_ms_batch64_fp32"],
                       lat64_int8=m["latency_ms_batch64_quantized"],
                       target=r["target"]["name"], hwy=r["target"]["highway_target"])
            rows.append(row)
            print(f"| {model} | {cal} | {100 * row['fp32']:.2f} | {100 * row['int8']:.2f} | "
                  f"{100 * (row['int8'] - row['fp32']):+.2f} | {100 * row['ort_agreement']:.2f} | "
                  f"{row['bytes_fp32'] / 1024:.0f} -> {row['bytes_int8'] / 1024:.0f} KiB | "
                  f"{row['lat1_fp32']:.3f} / {row['lat1_int8']:.3f} | "
                  f"{row['lat64_fp32']:.2f} / {row['lat64_int8']:.2f} |", flush=True)
    with open(os.path.join(args.out, "table.json"), "w") as f:
        json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
