#!/usr/bin/python3
"""Builds the fixture models and data under tests/fixtures/ (run with Debian's python3).

    /usr/bin/python3 scripts/make_fixtures.py [--out tests/fixtures] [--ort]

What it does, deterministically (fixed seeds, 2 threads, deterministic algorithms):
  1. Reads Fashion-MNIST from /usr/share/datasets/fashion-mnist (IDX, gzip), parsed here with
     numpy + gzip. Model input is float32 [N, 1, 28, 28] = uint8 pixel / 255 (no mean/std
     normalisation), labels int64 [N]: the same preprocessing as mp::data's IDX loader.
  2. Trains five small classifiers briefly on CPU (Adam, batch 128, a fixed epoch count) and
     measures their fp32 accuracy on the 10k test set.
  3. Exports each with torch.onnx.export (opset 13, dynamic batch axis 0, input "input",
     output "logits") to models/<name>.onnx and checks it with onnx.checker. resnet and
     mobilenet are exported with TrainingMode.PRESERVE from eval mode, which keeps their
     BatchNormalization nodes (the default EVAL export would fuse them into the convs), so
     the engine's BN folding is exercised.
  4. Writes data/: the first 64 test images (float32 [64,1,28,28]), their labels (int64
     [64]), the raw uint8 images ([64,28,28]), PyTorch's logits per model, and small
     numpy-written .npy files in several dtypes/header versions for parser tests.
  5. With --ort: runs tests/ort/run_ort.js (ONNX Runtime via node) on the 64 images for every
     model, saves data/<model>_ort_out.npy and checks them against PyTorch's logits.
  6. Writes models/README.md with the accuracies, sizes and this command.
"""

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

DATASET_DIR = "/usr/share/datasets/fashion-mnist"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPSET = 13
SEED = 20261122


# ---------------------------------------------------------------------------------------
# Data


def read_idx(path):
    """Parses an IDX file (optionally gzip'd): magic 0x0000 <type> <rank>, big-endian dims."""
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data, header says {dims}")
    return data.reshape(dims)


def load_split(prefix):
    images = read_idx(os.path.join(DATASET_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATASET_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    return images, x, y


# ---------------------------------------------------------------------------------------
# Models


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class LeNet(nn.Module):
    """LeNet-5 style: conv5x5(6)-relu-maxpool, conv5x5(16)-relu-maxpool, fc 120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.down is None else self.down(x)
        return F.relu(out + skip)


class ResNet(nn.Module):
    """Small ResNet: stem + 4 basic blocks (16, 32/2, 32, 64/2), global average pool, fc."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.blocks = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2),
                                    BasicBlock(32, 32, 1), BasicBlock(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand-BN-ReLU6, 3x3 depthwise-BN-ReLU6, 1x1 project-BN."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.body(x)
        return x + out if self.use_res else out


class MobileNet(nn.Module):
    """Stride-2 stem (28 -> 14), 5 inverted residuals (14, 7, 7, 4, 4), 1x1 head, mean, fc."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU6())
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 1, 4), InvertedResidual(16, 24, 2, 4),
            InvertedResidual(24, 24, 1, 4), InvertedResidual(24, 32, 2, 4),
            InvertedResidual(32, 32, 1, 4))
        self.head = nn.Sequential(nn.Conv2d(32, 128, 1, bias=False), nn.BatchNorm2d(128),
                                  nn.ReLU6())
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        x = torch.mean(x, dim=(2, 3))
        return self.fc(x)


class EncoderBlock(nn.Module):
    """Pre-LN transformer encoder block: x + MHSA(LN(x)); x + MLP(LN(x)) with GELU."""

    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        n, t, d = x.shape
        h = self.heads
        qkv = self.qkv(self.ln1(x)).reshape(n, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                      # [n, h, t, d/h]
        att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / float(d // h) ** 0.5)
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(n, t, d)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Transformer(nn.Module):
    """Tiny ViT: 7x7 patches (16 tokens of 49 pixels), dim 64, 4 heads, 2 blocks, mean pool."""

    def __init__(self, dim=64, heads=4, depth=2):
        super().__init__()
        self.embed = nn.Linear(49, dim)
        self.pos = nn.Parameter(torch.zeros(1, 16, dim))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, 2 * dim) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, 10)

    def forward(self, x):
        n = x.shape[0]
        x = x.reshape(n, 4, 7, 4, 7).permute(0, 1, 3, 2, 4).reshape(n, 16, 49)
        x = self.blocks(self.embed(x) + self.pos)
        return self.fc(self.ln(x).mean(dim=1))


# name -> (constructor, epochs, keep BatchNormalization nodes in the export)
MODELS = {
    "mlp": (MLP, 4, False),
    "lenet": (LeNet, 3, False),
    "resnet": (ResNet, 1, True),
    "mobilenet": (MobileNet, 1, True),
    "transformer": (Transformer, 2, False),
}


# ---------------------------------------------------------------------------------------
# Training, evaluation, export


def train(model, x, y, epochs, seed):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0], 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()
    return float(loss)


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], 1000):
        correct += int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum())
    return correct / x.shape[0]


def export(model, path, keep_bn):
    dummy = torch.zeros(2, 1, 28, 28)
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, dummy, path, opset_version=OPSET, input_names=["input"],
                      output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=mode, do_constant_folding=True)
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    ops = sorted({n.op_type for n in proto.graph.node})
    return ops, len(proto.graph.node)


def write_npy_parser_fixtures(out_dir):
    """numpy-written .npy files in every dtype/layout the C++ parser must accept or reject."""
    os.makedirs(out_dir, exist_ok=True)
    a = np.arange(6, dtype=np.int64).reshape(2, 3) - 2
    np.save(os.path.join(out_dir, "f32_2x3.npy"), (a * 0.5).astype(np.float32))
    np.save(os.path.join(out_dir, "f64_2x3.npy"), (a * 0.25).astype(np.float64))
    np.save(os.path.join(out_dir, "i64_2x3.npy"), a)
    np.save(os.path.join(out_dir, "i32_2x3.npy"), a.astype(np.int32))
    np.save(os.path.join(out_dir, "u8_2x3.npy"), ((a + 250) % 256).astype(np.uint8))
    np.save(os.path.join(out_dir, "i8_2x3.npy"), a.astype(np.int8))
    np.save(os.path.join(out_dir, "bool_2x3.npy"), a > 0)
    np.save(os.path.join(out_dir, "f32_scalar.npy"), np.float32(3.5))
    np.save(os.path.join(out_dir, "f32_empty_0x4.npy"), np.zeros((0, 4), np.float32))
    np.save(os.path.join(out_dir, "f32_fortran_2x3.npy"),
            np.asfortranarray((a * 0.5).astype(np.float32)))
    np.save(os.path.join(out_dir, "f32_bigendian_2x3.npy"), (a * 0.5).astype(">f4"))
    with open(os.path.join(out_dir, "i64_2x3_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, a, version=(2, 0))
    with open(os.path.join(out_dir, "i64_2x3_v3.npy"), "wb") as f:
        np.lib.format.write_array(f, a, version=(3, 0))


def run_ort(models_dir, data_dir, names, torch_out):
    node = shutil.which("node")
    harness = os.path.join(REPO, "tests", "ort", "run_ort.js")
    if node is None or not os.path.isdir(os.path.join(REPO, "tests", "ort", "node_modules")):
        sys.exit("--ort needs node and `npm install` in tests/ort")
    report = {}
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([node, harness, "--model", os.path.join(models_dir, f"{name}.onnx"),
                            "--input", "input=" + os.path.join(data_dir, "images_64.npy"),
                            "--output-dir", tmp], check=True)
            ort = np.load(os.path.join(tmp, "logits.npy"))
            shutil.copy(os.path.join(tmp, "logits.npy"),
                        os.path.join(data_dir, f"{name}_ort_out.npy"))
        ref = torch_out[name]
        diff = float(np.abs(ort - ref).max())
        agree = float((ort.argmax(1) == ref.argmax(1)).mean())
        print(f"[ort] {name}: max |ort - torch| = {diff:.3g}, argmax agreement {agree:.3f}")
        if diff > 1e-3 or agree != 1.0:
            sys.exit(f"ONNX Runtime disagrees with PyTorch on {name}")
        report[name] = diff
    return report


README = """# Fixture models

Small Fashion-MNIST classifiers trained briefly on CPU with fixed seeds and exported by
`torch.onnx.export` (opset {opset}, dynamic batch axis), so the graphs contain what PyTorch
really writes (Shape/Gather/Concat/Reshape chains, decomposed LayerNorm and GELU, Clip for
ReLU6). Input `input`: float32 [N, 1, 28, 28] = uint8 pixel / 255 (no mean/std). Output
`logits`: float32 [N, 10].

Produced by (torch {torch_version}, onnx {onnx_version}, numpy {numpy_version}, 2 threads;
this run took {total_seconds:.0f} s wall clock on a 2-core machine shared with parallel
builds — unloaded, about 2 min of per-epoch training for each model, ~6 min in all):

    /usr/bin/python3 scripts/make_fixtures.py --ort

(`--ort` needs `ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install` in tests/ort first.) Training
is deterministic on one machine; a different torch/BLAS build may change the weights in the
last bits, so the checked-in files, not a re-run, are the reference.

| model | architecture | epochs | fp32 test accuracy (PyTorch, 10k) | size | nodes | ops |
|---|---|---|---|---|---|---|
{rows}

Notes:
- resnet and mobilenet are exported with `training=TrainingMode.PRESERVE` from eval mode,
  which keeps their `BatchNormalization` nodes (the default export fuses BN into the convs);
  the engine's importer is expected to fold them.
- mobilenet's ReLU6 is `Clip(min=0, max=6)`; its depthwise convs are `Conv` with
  `group = channels`.
- transformer: 7x7 patches -> 16 tokens of 49 pixels, dim 64, 4 heads, 2 pre-LN encoder
  blocks, GELU MLP (exported as Erf), mean pool over tokens, linear classifier.

# Fixture data (../data)

- `images_64.npy` float32 [64, 1, 28, 28]: the first 64 Fashion-MNIST test images / 255.
- `labels_64.npy` int64 [64]; `images_u8_64.npy` uint8 [64, 28, 28] (raw pixels).
- `<model>_torch_out.npy` float32 [64, 10]: PyTorch's logits for `images_64.npy`.
- `<model>_ort_out.npy` float32 [64, 10]: ONNX Runtime's logits (tests/ort/run_ort.js,
  onnxruntime-node 1.30.0, CPU provider), checked against PyTorch: max abs difference {ort_diffs}.
- `npy/`: numpy-written files in each dtype, header versions 1.0/2.0/3.0, a scalar, an
  empty array, a Fortran-order and a big-endian file, for the .npy parser tests.
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"))
    parser.add_argument("--ort", action="store_true", help="also write <model>_ort_out.npy")
    parser.add_argument("--only", nargs="*", default=list(MODELS))
    args = parser.parse_args()

    start = time.time()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    models_dir = os.path.join(args.out, "models")
    data_dir = os.path.join(args.out, "data")
    os.makedirs(models_dir, exist_ok=True)
    os.makedirs(data_dir, exist_ok=True)

    _, x_train, y_train = load_split("train")
    test_u8, x_test, y_test = load_split("t10k")
    np.save(os.path.join(data_dir, "images_64.npy"), x_test[:64].numpy())
    np.save(os.path.join(data_dir, "labels_64.npy"), y_test[:64].numpy())
    np.save(os.path.join(data_dir, "images_u8_64.npy"), np.ascontiguousarray(test_u8[:64]))
    write_npy_parser_fixtures(os.path.join(data_dir, "npy"))

    results = {}
    torch_out = {}
    for i, name in enumerate(args.only):
        ctor, epochs, keep_bn = MODELS[name]
        t0 = time.time()
        torch.manual_seed(SEED + i)
        model = ctor()
        loss = train(model, x_train, y_train, epochs, SEED + 100 + i)
        acc = accuracy(model, x_test, y_test)
        path = os.path.join(models_dir, f"{name}.onnx")
        ops, nodes = export(model, path, keep_bn)
        with torch.no_grad():
            torch_out[name] = model(x_test[:64]).numpy()
        np.save(os.path.join(data_dir, f"{name}_torch_out.npy"), torch_out[name])
        size = os.path.getsize(path)
        secs = time.time() - t0
        results[name] = dict(accuracy=acc, epochs=epochs, size=size, nodes=nodes, ops=ops,
                             seconds=secs, final_loss=loss,
                             params=sum(p.numel() for p in model.parameters()))
        print(f"[{name}] acc {acc:.4f} loss {loss:.3f} size {size} B nodes {nodes} "
              f"{secs:.1f} s ops {ops}", flush=True)
        if size >= 2 << 20:
            sys.exit(f"{name}.onnx is {size} bytes, over the 2 MB budget")

    ort_diffs = "not computed (run with --ort)"
    if args.ort:
        diffs = run_ort(models_dir, data_dir, args.only, torch_out)
        ort_diffs = ", ".join(f"{k} {v:.2g}" for k, v in diffs.items())

    total = time.time() - start
    with open(os.path.join(models_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    if set(args.only) == set(MODELS):
        arch = {
            "mlp": "784-256-128-10, ReLU",
            "lenet": "conv5x5(6)-relu-maxpool, conv5x5(16)-relu-maxpool, fc 120-84-10",
            "resnet": "stem + 4 basic blocks (16, 32/2, 32, 64/2) with BN, GAP, fc",
            "mobilenet": "stride-2 stem + 5 inverted residuals (t=4, depthwise 3x3, ReLU6), 1x1 head, fc",
            "transformer": "7x7 patches, dim 64, 4 heads, 2 encoder blocks, GELU MLP, mean pool",
        }
        rows = "\n".join(
            f"| {n}.onnx | {arch[n]} | {r['epochs']} | {100 * r['accuracy']:.2f}% | "
            f"{r['size'] / 1024:.0f} KiB ({r['params']} params) | {r['nodes']} | "
            f"{', '.join(r['ops'])} |" for n, r in results.items())
        with open(os.path.join(models_dir, "README.md"), "w") as f:
            f.write(README.format(opset=OPSET, torch_version=torch.__version__,
                                  onnx_version=onnx.__version__,
                                  numpy_version=np.__version__, total_seconds=total,
                                  rows=rows, ort_diffs=ort_diffs))
    print(f"total {total:.1f} s")


if __name__ == "__main__":
    main()
