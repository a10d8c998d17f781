#!/usr/bin/python3
"""Training throughput benchmark: modelpress's engine vs PyTorch 1.13, one run.

For the LeNet-style and MLP fixtures, batch 128, 1 and 2 threads, it times a training step
(forward + softmax cross-entropy + backward + optimizer step) on both, alternating them, and
prints samples/s and the ratio ours / PyTorch (> 1 means modelpress is faster):
  - wall: samples per wall-clock second (median of 3 rounds of --steps steps);
  - cpu: samples per CPU-second of the process (all threads). On a machine shared with
    other work the wall figures swing with the load; for 1 thread the CPU figure is what an
    idle core would give, for 2 threads it measures total work, not speed-up.

  bench/train_bench.py [--build build/release] [--models lenet,mlp] [--batch 128]
                       [--threads 1,2] [--steps 50] [--optimizer sgd|adam] [--avx2]

Ours: <build>/bench/mp_bench_train (GradGraph + loss + Optimizer, train/). PyTorch: the same
architectures written as torch.nn modules (tests/train/torch_train.py's LeNet; the MLP
784-256-128-10), torch.set_num_threads(threads), torch.optim.SGD(momentum 0.9) or Adam.
Both train on one fixed batch of [batch, 1, 28, 28] floats in [0, 1) with random labels.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/train"))
from torch_train import LeNet  # noqa: E402


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def ours(tool, model, batch, threads, steps, optimizer, avx2):
    cmd = [tool, "--model", os.path.join(ROOT, "tests/fixtures/models", model + ".onnx"),
           "--batch", str(batch), "--threads", str(threads), "--steps", str(steps),
           "--optimizer", optimizer] + (["--avx2"] if avx2 else [])
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def theirs(model, batch, threads, steps, optimizer):
    torch.manual_seed(1)
    torch.set_num_threads(threads)
    net = LeNet() if model == "lenet" else mlp()
    if optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    wall, cpu = [], []
    for _ in range(3):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(steps):
            step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    n = batch * steps
    return {"samples_per_s": n / statistics.median(wall),
            "cpu_samples_per_s": n / statistics.median(cpu)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build/release"))
    p.add_argument("--models", default="lenet,mlp")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--avx2", action="store_true", help="force AVX2 on our side")
    args = p.parse_args()
    tool = os.path.join(args.build, "bench/mp_bench_train")
    if not os.access(tool, os.X_OK):
        sys.exit("train_bench: %s is missing; build it first (MP_BUILD_BENCH=ON)" % tool)
    print("optimizer %s, batch %d, torch %s" % (args.optimizer, args.batch, torch.__version__))
    print("%-6s %3s | %10s %10s %10s | %10s %10s %10s" %
          ("model", "thr", "ours/s", "torch/s", "ours/torch", "ours cpu/s", "torch cpu/s",
           "ours/torch"))
    for model in args.models.split(","):
        for threads in [int(t) for t in args.threads.split(",")]:
            a = ours(tool, model, args.batch, threads, args.steps, args.optimizer, args.avx2)
            b = theirs(model, args.batch, threads, args.steps, args.optimizer)
            print("%-6s %3d | %10.0f %10.0f %9.2fx | %10.0f %10.0f %9.2fx" %
                  (model, threads, a["samples_per_s"], b["samples_per_s"],
                   a["samples_per_s"] / b["samples_per_s"], a["cpu_samples_per_s"],
                   b["cpu_samples_per_s"], a["cpu_samples_per_s"] / b["cpu_samples_per_s"]),
                  flush=True)


if __name__ == "__main__":
    main()
