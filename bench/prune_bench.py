#!/usr/bin/python3
"""Pruning benchmark: dense vs 50%-structured-pruned models, in our engine and ONNX Runtime.

For each fixture model it runs `modelpress-worker prune --method structured --sparsity S`
(no fine-tuning), then times the dense and the pruned file in both runtimes, in this same
run, and prints the MACs and parameter bytes from the prune report, and for each batch size
the median latency (ms) of dense and pruned and the speedup dense / pruned per runtime, plus
the CPU time per batch (ms, all threads of the process; steadier than wall time on a shared
machine).

  bench/prune_bench.py [--build build/release] [--models lenet,resnet,mobilenet]
                       [--sparsity 0.5] [--batches 1,64] [--threads 1] [--iters 50]

Needs <build>/workers/modelpress-worker and <build>/bench/mp_profile_model (MP_BUILD_BENCH=ON)
and tests/ort/node_modules (scripts/setup). Timing helpers are bench/model_bench.py's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_bench  # noqa: E402  (ours(), ort())

ROOT = model_bench.ROOT


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build/release"))
    p.add_argument("--models", default="lenet,resnet,mobilenet")
    p.add_argument("--sparsity", default="0.5")
    p.add_argument("--batches", default="1,64")
    p.add_argument("--threads", default="1")
    p.add_argument("--iters", type=int, default=50)
    args = p.parse_args()
    worker = os.path.join(args.build, "workers/modelpress-worker")
    tool = os.path.join(args.build, "bench/mp_profile_model")
    for path in (worker, tool):
        if not os.access(path, os.X_OK):
            sys.exit("prune_bench: %s is missing; build it first" % path)
    if not os.path.isdir(os.path.join(ROOT, "tests/ort/node_modules/onnxruntime-node")):
        sys.exit("prune_bench: onnxruntime-node is missing; run scripts/setup")
    tmp = tempfile.mkdtemp(prefix="prune_bench_")
    print("%-10s %12s %12s %7s | %10s %10s %7s" %
          ("model", "MACs dense", "MACs pruned", "cut", "bytes dense", "bytes pruned", "cut"))
    pruned = {}
    for name in args.models.split(","):
        dense = os.path.join(ROOT, "tests/fixtures/models/%s.onnx" % name)
        out = os.path.join(tmp, "%s_pruned.onnx" % name)
        report = os.path.join(tmp, "%s_report.json" % name)
        subprocess.run([worker, "prune", "--model", dense, "--method", "structured",
                        "--sparsity", args.sparsity, "-o", out, "--report", report],
                       check=True, capture_output=True, text=True)
        r = json.load(open(report))
        b, a = r["before"], r["after"]
        print("%-10s %12d %12d %6.1f%% | %10d %10d %6.1f%%" %
              (name, b["macs"], a["macs"], 100 * (1 - a["macs"] / b["macs"]),
               b["parameter_bytes"], a["parameter_bytes"],
               100 * (1 - a["parameter_bytes"] / b["parameter_bytes"])), flush=True)
        pruned[name] = (dense, out)
    print()
    print("%-10s %5s %3s | %9s %9s %7s %9s %9s | %9s %9s %7s %9s %9s" %
          ("model", "batch", "thr", "ours p50", "pruned", "speedup", "cpu dense", "pruned",
           "ORT p50", "pruned", "speedup", "cpu dense", "pruned"))
    for name, (dense, out) in pruned.items():
        for batch in [int(x) for x in args.batches.split(",")]:
            iters = max(5, args.iters // (1 if batch < 64 else 5))
            for threads in [int(t) for t in args.threads.split(",")]:
                od = model_bench.ours(tool, dense, batch, threads, iters, False)
                op = model_bench.ours(tool, out, batch, threads, iters, False)
                rd = model_bench.ort(dense, batch, threads, iters)
                rp = model_bench.ort(out, batch, threads, iters)
                print("%-10s %5d %3d | %9.3f %9.3f %6.2fx %9.3f %9.3f | %9.3f %9.3f %6.2fx %9.3f %9.3f"
                      % (name, batch, threads, od["p50_ms"], op["p50_ms"],
                         od["p50_ms"] / op["p50_ms"], od["cpu_ms"], op["cpu_ms"], rd["p50_ms"],
                         rp["p50_ms"], rd["p50_ms"] / rp["p50_ms"], rd["cpu_ms"], rp["cpu_ms"]),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
