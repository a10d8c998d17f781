#!/usr/bin/python3
"""Model inference benchmark: modelpress's engine vs ONNX Runtime (onnxruntime-node), one run.

For each fixture model, batch size and thread count it times both runtimes on the same model
file, in this same process run, alternating them, and prints the mean latency of one batch
and the ratio ORT / ours (> 1 means modelpress is faster).

  bench/model_bench.py [--build build/release] [--models lenet,resnet] [--batches 1,256]
                       [--threads 1,2] [--iters 50]

Needs build/<preset>/workers/modelpress-worker and tests/ort/node_modules (scripts/setup
installs onnxruntime-node). Inputs: tests/fixtures/data/images_64.npy, cycled to the batch
size, for ours; for ORT the harness makes inputs of the same shape (latency does not depend
on pixel values for these models).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ours(worker, model, batch, threads, iters):
    out = subprocess.run(
        [worker, "eval", "--model", model, "--data",
         os.path.join(ROOT, "tests/fixtures/data/images_64.npy"), "--latency-batch", str(batch),
         "--iterations", str(iters), "--threads", str(threads), "--json"],
        check=True, capture_output=True, text=True).stdout
    row = json.loads(out)["latency"][0]
    return row["mean_ms"]


def ort(model, batch, threads, iters):
    out = subprocess.run(
        ["node", os.path.join(ROOT, "tests/ort/run_ort.js"), "--model", model, "--bench",
         "--iters", str(iters), "--threads", str(threads), "--batch", str(batch)],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().split("\n")[-1])["mean_ms"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build/release"))
    p.add_argument("--models", default="lenet,resnet")
    p.add_argument("--batches", default="1,256")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--iters", type=int, default=50)
    args = p.parse_args()
    worker = os.path.join(args.build, "workers/modelpress-worker")
    if not os.access(worker, os.X_OK):
        sys.exit("model_bench: %s is missing; build first (scripts/setup)" % worker)
    if not os.path.isdir(os.path.join(ROOT, "tests/ort/node_modules/onnxruntime-node")):
        sys.exit("model_bench: onnxruntime-node is missing; run scripts/setup")
    print("%-10s %6s %7s %12s %12s %10s" % ("model", "batch", "threads", "ours ms", "ORT ms",
                                            "ORT/ours"))
    for name in args.models.split(","):
        model = os.path.join(ROOT, "tests/fixtures/models/%s.onnx" % name)
        for batch in [int(b) for b in args.batches.split(",")]:
            iters = max(5, args.iters // (1 if batch < 64 else 5))
            for threads in [int(t) for t in args.threads.split(",")]:
                a = ours(worker, model, batch, threads, iters)
                b = ort(model, batch, threads, iters)
                print("%-10s %6d %7d %12.3f %12.3f %9.2fx" % (name, batch, threads, a, b, b / a),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
