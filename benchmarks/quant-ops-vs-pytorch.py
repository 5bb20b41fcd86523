"""Throughput of qat-mlir's compiled quantization ops against PyTorch 1.13.

    PYTHONPATH=python /usr/bin/python3 benchmarks/quant-ops-vs-pytorch.py

Each op runs on the same data in both, one thread each (the compiled code
is single-threaded today; PyTorch is also timed with two threads). qat-mlir
is timed inside qat-run (--repeat, median of the calls, compile excluded);
PyTorch with time.perf_counter around the op (median). Prints a table of
milliseconds per call and the ratio PyTorch / qat-mlir (above 1: we are
faster).
"""

import os
import re
import subprocess
import tempfile
import time

import numpy as np
import torch

from qat_mlir import find_tool

REPEAT = 50
rng = np.random.default_rng(0)
ACT = (64, 16, 28, 28)   # the small CNN's first activation at batch 64
WEIGHT = (32, 16, 3, 3)  # its second convolution's weight


def tensor_type(shape, element="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + element + ">"


def qat_mlir_ms(source, inputs):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.mlir")
        with open(path, "w") as f:
            f.write(source)
        command = [find_tool("qat-run"), path, "--entry", "main",
                   "--repeat", str(REPEAT)]
        for index, array in enumerate(inputs):
            array_path = os.path.join(tmp, f"in{index}.npy")
            np.save(array_path, array)
            command += ["--input", array_path]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    median = re.search(r"median ([0-9.]+) s", done.stderr)
    return 1000 * float(median.group(1))


def torch_ms(fn, threads):
    torch.set_num_threads(threads)
    fn()
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    act = (rng.standard_normal(ACT) * 2).astype(np.float32)
    weight = (rng.standard_normal(WEIGHT) * 0.1).astype(np.float32)
    a_t, w_t = tensor_type(ACT), tensor_type(WEIGHT)
    c_f, c_i = tensor_type((WEIGHT[0],)), tensor_type((WEIGHT[0],), "i32")
    ta, tw = torch.from_numpy(act), torch.from_numpy(weight)
    w_scale = (np.abs(weight).reshape(WEIGHT[0], -1).max(1) / 127.5).astype(np.float32)
    w_zp = np.zeros(WEIGHT[0], np.int32)

    cases = [
        ("fake_quant per-tensor u8, 64x16x28x28",
         f"""func.func @main(%x: {a_t}, %s: tensor<f32>, %z: tensor<i32>) -> {a_t} {{
  %0 = qat.fake_quant %x, %s, %z to ui8[0 : 255] : {a_t}, tensor<f32>, tensor<i32>
  return %0 : {a_t}
}}""", [act, np.array(0.03, np.float32), np.array(128, np.int32)],
         lambda: torch.fake_quantize_per_tensor_affine(ta, 0.03, 128, 0, 255)),
        ("fake_quant per-channel i8, 32x16x3x3",
         f"""func.func @main(%x: {w_t}, %s: {c_f}, %z: {c_i}) -> {w_t} {{
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis 0 : {w_t}, {c_f}, {c_i}
  return %0 : {w_t}
}}""", [weight, w_scale, w_zp],
         lambda: torch.fake_quantize_per_channel_affine(
             tw, torch.from_numpy(w_scale), torch.from_numpy(w_zp), 0, -128, 127)),
        ("moving-average observer + qparams, 64x16x28x28",
         f"""func.func @main(%x: {a_t}, %lo: tensor<f32>, %hi: tensor<f32>) -> (tensor<f32>, tensor<i32>) {{
  %0:2 = qat.observe_moving_average_min_max %x, %lo, %hi averaging_constant 0.01 : {a_t}, tensor<f32>
  %s, %z = qat.choose_qparams affine %0#0, %0#1 to ui8[0 : 255] : tensor<f32>
  return %s, %z : tensor<f32>, tensor<i32>
}}""", [act, np.array(-1.0, np.float32), np.array(1.0, np.float32)],
         None),
    ]
    observer = torch.ao.quantization.MovingAverageMinMaxObserver(averaging_constant=0.01)
    observer(ta)

    def observe():
        observer(ta)
        return observer.calculate_qparams()

    print(f"{'op':48} {'qat-mlir':>10} {'torch 1T':>10} {'torch 2T':>10} {'1T ratio':>9}")
    for name, source, inputs, reference in cases:
        fn = reference or observe
        ours = qat_mlir_ms(source, inputs)
        one, two = torch_ms(fn, 1), torch_ms(fn, 2)
        print(f"{name:48} {ours:8.3f}ms {one:8.3f}ms {two:8.3f}ms {one / ours:8.2f}x")


if __name__ == "__main__":
    main()
