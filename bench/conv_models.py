"""Writes single-Conv ONNX models (random weights, zero bias) for mp_bench_conv.

Usage: conv_models.py OUT_DIR NAME,N,CIN,H,W,COUT,K,STRIDE,PAD,GROUP ...
Each model has input "x" [N, CIN, H, W] and output "y"; OUT_DIR/NAME.onnx is written.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    out_dir = sys.argv[1]
    rng = np.random.default_rng(0)
    for spec in sys.argv[2:]:
        name, *nums = spec.split(",")
        n, cin, h, w, cout, k, s, pad, g = map(int, nums)
        weight = numpy_helper.from_array(
            (rng.random((cout, cin // g, k, k)) * 0.1).astype(np.float32), "W")
        bias = numpy_helper.from_array(np.zeros(cout, np.float32), "B")
        node = helper.make_node("Conv", ["x", "W", "B"], ["y"], kernel_shape=[k, k],
                                strides=[s, s], pads=[pad] * 4, group=g)
        graph = helper.make_graph(
            [node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, cin, h, w])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight, bias])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        onnx.save(model, f"{out_dir}/{name}.onnx")


if __name__ == "__main__":
    main()
