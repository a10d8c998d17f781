#!/usr/bin/python3
"""PyTorch's own static PTQ on the fixture models: the reference our ptq is held to (issue 4).

    /usr/bin/python3 tests/ptq/torch_ptq.py [--models mlp lenet resnet mobilenet] [--json out.json]

For each model: the module definition from scripts/make_fixtures.py is loaded with the
fixture's trained weights, read from tests/fixtures/models/<name>.onnx (the ONNX initializer
names are the state_dict keys, since the fixtures were exported from these modules; nothing
is re-trained). PyTorch FX graph-mode static quantization with the `onednn` engine and its
default qconfig (uint8 histogram-observed activations, int8 per-channel weights) is
calibrated on the first 1000 Fashion-MNIST training images (the same samples
`modelpress-worker ptq --calib-samples 1000` uses) and evaluated on the 10k test set.
Prints one line per model (fp32 and int8 top-1) and optionally writes them as JSON.
"""

import argparse
import importlib.util
import json
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_fixtures_module():
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", os.path.join(REPO, "scripts", "make_fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_weights(model, onnx_path):
    proto = onnx.load(onnx_path)
    tensors = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy())
               for t in proto.graph.initializer}
    # torch.onnx.export de-duplicates equal initializers: a parameter may then be an Identity
    # node's output reading another parameter's initializer.
    for node in proto.graph.node:
        if node.op_type == "Identity" and node.input[0] in tensors:
            tensors[node.output[0]] = tensors[node.input[0]]
    state = model.state_dict()
    missing = [k for k in state if k not in tensors and not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit(f"{onnx_path}: no initializer for {missing}")
    model.load_state_dict({k: tensors.get(k, v) for k, v in state.items()})
    model.eval()
    return model


@torch.no_grad()
def accuracy(model, x, y):
    correct = 0
    for i in range(0, x.shape[0], 1000):
        correct += int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum())
    return correct / x.shape[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="*", default=["mlp", "lenet", "resnet", "mobilenet"])
    parser.add_argument("--calib", type=int, default=1000)
    parser.add_argument("--json")
    args = parser.parse_args()

    torch.set_num_threads(2)
    torch.backends.quantized.engine = "onednn"
    fixtures = load_fixtures_module()
    _, x_train, _ = fixtures.load_split("train")
    _, x_test, y_test = fixtures.load_split("t10k")
    calib = x_train[:args.calib]
    results = {}
    for name in args.models:
        ctor = fixtures.MODELS[name][0]
        model = load_weights(ctor(), os.path.join(REPO, "tests", "fixtures", "models", f"{name}.onnx"))
        fp32 = accuracy(model, x_test, y_test)
        prepared = prepare_fx(model, get_default_qconfig_mapping("onednn"), (calib[:1],))
        with torch.no_grad():
            for i in range(0, calib.shape[0], 100):
                prepared(calib[i:i + 100])
        quantized = convert_fx(prepared)
        int8 = accuracy(quantized, x_test, y_test)
        results[name] = {"fp32": fp32, "int8_torch_onednn": int8}
        print(f"{name}: fp32 {100 * fp32:.2f}%  torch onednn int8 {100 * int8:.2f}%", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
