#!/usr/bin/python3
"""Train the LeNet-style fixture architecture from scratch in PyTorch 1.13 on Fashion-MNIST.

The peer for workers/engine/train/lenet_full_test.cc: same architecture as
tests/fixtures/models/lenet.onnx (conv 6x5x5 pad 2, ReLU, maxpool 2, conv 16x5x5, ReLU,
maxpool 2, 400-120-84-10 with ReLU), PyTorch's default initialisation, same budget (epochs,
batch, Adam, linear warm-up then cosine to 0 per step) and preprocessing (x / 255). The data
order differs (torch's shuffling). Prints the test accuracy after every epoch and at the end.

With --export PATH the trained model is written as ONNX the way scripts/make_fixtures.py
writes the fixtures (opset 13, dynamic batch, input "input", output "logits"): a fully
trained PyTorch teacher for distillation experiments.

Usage: /usr/bin/python3 tests/train/torch_train.py [--epochs 15] [--batch 64] [--lr 2e-3]
         [--warmup 200] [--threads 2] [--seed 1] [--train-limit N] [--export PATH]
"""
import argparse
import gzip
import math
import os
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split, limit=-1):
    x = read_idx(os.path.join(DATA, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA, f"{split}-labels-idx1-ubyte.gz"))
    if limit >= 0:
        x, y = x[:limit], y[:limit]
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def lr_factor(step, warmup, total):
    """workers/engine/train/schedule.h: linear warm-up, then cosine to 0."""
    if step < warmup:
        return (step + 1) / warmup
    t = total - warmup
    return 0.5 * (1 + math.cos(math.pi * min(step - warmup, t) / t))


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 256):
            correct += (model(x[i:i + 256]).argmax(1) == y[i:i + 256]).sum().item()
    model.train()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=-1)
    ap.add_argument("--export", default="", help="write the trained model as ONNX here")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    xtr, ytr = load("train", args.train_limit)
    xte, yte = load("t10k")
    model = LeNet()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(xtr) / args.batch)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, args.warmup, total))
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f} test acc {evaluate(model, xte, yte):.4f}",
              flush=True)
    acc = evaluate(model, xte, yte)
    print(f"torch LeNet: {args.epochs} epochs, batch {args.batch}, Adam lr {args.lr}: "
          f"test accuracy {acc:.4f}, {time.perf_counter() - start:.1f} s "
          f"({args.threads} threads, torch {torch.__version__})")
    if args.export:
        model.eval()
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), args.export, opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=True)
        print(f"wrote {args.export}")


if __name__ == "__main__":
    main()
