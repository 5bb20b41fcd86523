"""Inference latency of qat-compile's programs against PyTorch 1.13, one
thread, side by side in one run.

    /usr/bin/python3 benchmarks/inference-vs-pytorch.py [--batch 50]

The small CNN, trained briefly with target-exact QAT at batch 50 (the
weights do not change the timing), every program run with `--batch` images
per call (`qat-compile --batch`), the 10,000 Fashion-MNIST test images:
- qat-mlir int8: `qat-compile --emit=exe` for this CPU (the `host`
  target, named in the table);
- qat-mlir fp32: the same weights without quantization, imported in
  evaluation mode and compiled with `--keep-float`;
- PyTorch fp32 eager, and the QAT model converted by
  `torch.ao.quantization.convert` on the qnnpack and onednn engines.
Each figure is microseconds per image over the whole test set (the
programs time their model calls; PyTorch is timed around each batch).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from qat_mlir import datasets, find_tool, models  # noqa: E402

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, default=50, help="images per call")
parser.add_argument("--activations", default="uint8", choices=["uint8", "uint7"],
                    help="qat-train --qconfig-activations: uint7 puts every layer on "
                         "AVX2's proven vpmaddubsw kernel (PyTorch's programs are timed "
                         "on the same weights either way)")
ARGS = parser.parse_args()
BATCH = ARGS.batch
TRAIN_BATCH = 50
torch.set_num_threads(1)
FUSE = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]]
data = datasets.FASHION_MNIST_DIR


def run(command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def program_latency(exe):
    summary = run([exe, f"{data}/t10k-images-idx3-ubyte.gz", f"{data}/t10k-labels-idx1-ubyte.gz"])
    return float(re.search(r"([0-9.]+) us per image", summary).group(1))


def torch_latency(model, x):
    times = 0.0
    with torch.no_grad():
        model(x[:BATCH])  # warm-up
        for start in range(0, x.shape[0], BATCH):
            begin = time.perf_counter()
            model(x[start:start + BATCH])
            times += time.perf_counter() - begin
    return 1e6 * times / x.shape[0]


with tempfile.TemporaryDirectory() as tmp:
    torch.manual_seed(0)
    torch.jit.trace(models.SmallCNN().train(), torch.zeros(TRAIN_BATCH, 1, 28, 28)).save(
        f"{tmp}/m.pt")
    run([find_tool("qat-train"), f"{tmp}/m.pt", "--qconfig", "per-tensor",
         "--qconfig-activations", ARGS.activations, "--target-exact",
         "--epochs", "1", "--train-limit", "2000", "--test-limit", "100",
         "--batch-size", str(TRAIN_BATCH), "-o", f"{tmp}/trained.mlir"])
    run([find_tool("qat-compile"), f"{tmp}/trained.mlir", "--emit=exe", f"--batch={BATCH}",
         "-o", f"{tmp}/int8"])
    run([find_tool("qat-export"), f"{tmp}/trained.mlir", "-o", f"{tmp}/trained.pt"])
    state = torch.load(f"{tmp}/trained.pt")
    fp32 = models.SmallCNN().eval()
    fp32.load_state_dict(state, strict=False)
    torch.jit.trace(fp32, torch.zeros(BATCH, 1, 28, 28)).save(f"{tmp}/fp32.pt")
    run([find_tool("qat-import"), f"{tmp}/fp32.pt", "--input-shape", f"{BATCH}x1x28x28",
         "-o", f"{tmp}/fp32.mlir"])
    run([find_tool("qat-compile"), f"{tmp}/fp32.mlir", "--keep-float", "--function=forward",
         "--emit=exe", "-o", f"{tmp}/fp32"])
    host = next(line.split()[1] for line in run([find_tool("qat-compile"), "--print-targets"])
                .splitlines() if line.startswith("host "))
    with open("/proc/cpuinfo") as f:
        cpu = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
    ours_int8 = program_latency(f"{tmp}/int8")
    ours_fp32 = program_latency(f"{tmp}/fp32")

    images, _ = datasets.fashion_mnist("test", data)
    x = torch.from_numpy(datasets.normalize(images).reshape(-1, 1, 28, 28))
    peers = {"PyTorch fp32 eager": torch_latency(fp32, x)}
    for engine in ("qnnpack", "onednn"):
        torch.backends.quantized.engine = engine
        _, converted = models.converted_qat_model(state, FUSE)
        peers[f"PyTorch int8 ({engine})"] = torch_latency(converted, x)

print(f"{cpu}, one thread, batch {BATCH}")
print(f"| program | us/image | qat-mlir int8 speed-up |")
print("| --- | --- | --- |")
print(f"| qat-mlir int8 ({host}, {ARGS.activations} activations) | {ours_int8:.0f} | 1.00x |")
print(f"| qat-mlir fp32 ({host}) | {ours_fp32:.0f} | {ours_fp32 / ours_int8:.2f}x |")
for name, value in peers.items():
    print(f"| {name} | {value:.0f} | {value / ours_int8:.2f}x |")
