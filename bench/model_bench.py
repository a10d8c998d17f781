#!/usr/bin/python3
"""Model inference benchmark: modelpress's engine vs ONNX Runtime (onnxruntime-node), one run.

For each fixture model, batch size and thread count it times both runtimes on the same model
file, in this same process run, alternating them, and prints for each:
  - wall: mean and median latency of one batch (ms) and the ratio ORT / ours of the means
    (> 1 means modelpress is faster);
  - cpu: CPU time per batch (ms, all threads of the process), and its ratio ORT / ours.
On a machine shared with other work the wall times swing with the load; the CPU time of a
1-thread run does not (it is the latency the run would have on an idle core), and for 2
threads it is the total work of both threads.

  bench/model_bench.py [--build build/release] [--models lenet,resnet,mobilenet]
                       [--batches 1,256] [--threads 1,2] [--iters 50] [--avx2]

Ours: build/<preset>/bench/mp_profile_model --bench (exec::Session::Run, what
modelpress-worker eval times); --avx2 forces Highway's AVX2 target on our side (ORT keeps its
own choice, AVX-512 where available). ORT: bench/ort_bench.js (needs tests/ort/node_modules;
scripts/setup installs onnxruntime-node). Both feed [batch, 1, 28, 28] floats in [0, 1) from a
fixed-seed generator (latency does not depend on pixel values for these models).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ours(tool, model, batch, threads, iters, avx2):
    cmd = [tool, "--model", model, "--batch", str(batch), "--threads", str(threads), "--iters",
           str(iters), "--bench"] + (["--avx2"] if avx2 else [])
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def ort(model, batch, threads, iters):
    cmd = ["node", os.path.join(ROOT, "bench/ort_bench.js"), model, str(batch), str(threads),
           str(iters)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().split("\n")[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build/release"))
    p.add_argument("--models", default="lenet,resnet,mobilenet")
    p.add_argument("--batches", default="1,256")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--avx2", action="store_true", help="force AVX2 on our side")
    args = p.parse_args()
    tool = os.path.join(args.build, "bench/mp_profile_model")
    if not os.access(tool, os.X_OK):
        sys.exit("model_bench: %s is missing; build it first (MP_BUILD_BENCH=ON)" % tool)
    if not os.path.isdir(os.path.join(ROOT, "tests/ort/node_modules/onnxruntime-node")):
        sys.exit("model_bench: onnxruntime-node is missing; run scripts/setup")
    print("%-10s %5s %3s | %9s %9s %9s %9s %8s | %9s %9s %8s" %
          ("model", "batch", "thr", "ours ms", "ORT ms", "ours p50", "ORT p50", "ORT/ours",
           "ours cpu", "ORT cpu", "ORT/ours"))
    for name in args.models.split(","):
        model = os.path.join(ROOT, "tests/fixtures/models/%s.onnx" % name)
        for batch in [int(b) for b in args.batches.split(",")]:
            iters = max(5, args.iters // (1 if batch < 64 else 5))
            for threads in [int(t) for t in args.threads.split(",")]:
                a = ours(tool, model, batch, threads, iters, args.avx2)
                b = ort(model, batch, threads, iters)
                print("%-10s %5d %3d | %9.3f %9.3f %9.3f %9.3f %7.2fx | %9.3f %9.3f %7.2fx" %
                      (name, batch, threads, a["mean_ms"], b["mean_ms"], a["p50_ms"],
                       b["p50_ms"], b["mean_ms"] / a["mean_ms"], a["cpu_ms"], b["cpu_ms"],
                       b["cpu_ms"] / a["cpu_ms"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
