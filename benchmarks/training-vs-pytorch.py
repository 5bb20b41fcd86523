"""Training throughput of qat-train against PyTorch 1.13 eager, side by side.

    /usr/bin/python3 benchmarks/training-vs-pytorch.py [--steps 50] [--threads 2]
                                                       [--model small_cnn|mobilenet_v2]
                                                       [--repeat 1]

The training issue's models at batch 64, SGD with momentum and Nesterov, on
the first images of Fashion-MNIST, both sides on --threads threads:

- fp32: the model as imported, against PyTorch's eager training loop
  (forward, cross-entropy, backward, optimizer step);
- QAT: qat-train --qconfig per-tensor (--qat-prepare: Conv+BN+ReLU in
  PyTorch's QAT form, fake quantization of weights and activations with
  observers), against PyTorch's eager QAT of the same model
  (fuse_modules_qat + prepare_qat, qnnpack qconfig: the same bits).

qat-train's figure is its own images/s over one epoch of `steps` batches
(step calls plus batch assembly, without the JIT compile); PyTorch's is the
same number of steps, timed the same way. With --repeat N the two sides
alternate N times and the median ratio is printed as well: on a shared or
virtual machine one run's ratio can move by 30%.
"""

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import qat_mlir  # noqa: E402
from qat_mlir import datasets, models  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=50)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--model", choices=["small_cnn", "mobilenet_v2"], default="small_cnn")
parser.add_argument("--repeat", type=int, default=1,
                    help="alternate the two sides this many times; print the median ratio")
args = parser.parse_args()
batch = 64
FUSE = {"small_cnn": [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]],
        "mobilenet_v2": None}[args.model]

torch.set_num_threads(args.threads)


def fresh():
    torch.manual_seed(0)
    if args.model == "mobilenet_v2":  # 28x28: width 0.5, first conv stride 1
        return models.MobileNetV2(num_classes=10, width_mult=0.5, in_channels=1,
                                  first_stride=1).train()
    return models.FusableSmallCNN().train()


def ours(extra):
    with tempfile.TemporaryDirectory() as tmp:
        torch.jit.trace(fresh(), torch.randn(batch, 1, 28, 28), check_trace=False).save(
            f"{tmp}/m.pt")
        subprocess.run([qat_mlir.find_tool("qat-train"), f"{tmp}/m.pt", "--epochs", "1",
                        "--train-limit", str(batch * args.steps), "--test-limit", str(batch),
                        "--num-threads", str(args.threads), "--log", f"{tmp}/log.csv",
                        "--no-progress", *extra], check=True, stdout=subprocess.DEVNULL)
        return float(next(csv.DictReader(open(f"{tmp}/log.csv")))["images_per_second"])


images, labels = datasets.fashion_mnist("train")
x = torch.from_numpy(datasets.normalize(images[:batch * args.steps])[:, None])
y = torch.from_numpy(labels[:batch * args.steps].astype("int64"))


def theirs(model):
    optimizer = torch.optim.SGD(model.parameters(), lr=5e-3, momentum=0.9, nesterov=True,
                                weight_decay=1e-7)
    start = time.perf_counter()
    for step in range(args.steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[step * batch:(step + 1) * batch]),
                               y[step * batch:(step + 1) * batch])
        loss.backward()
        optimizer.step()
    return batch * args.steps / (time.perf_counter() - start)


rows = [("fp32", lambda: ours([]), lambda: theirs(fresh()), "PyTorch eager")]
if FUSE:
    rows.append(("QAT", lambda: ours(["--qconfig", "per-tensor", "--fp-warmup-epochs", "0"]),
                 lambda: theirs(models.qat_ready(fresh(), FUSE)), "PyTorch eager QAT"))
for name, our_run, their_run, peer in rows:
    ratios = []
    for _ in range(args.repeat):
        our_speed, their_speed = our_run(), their_run()
        ratios.append(our_speed / their_speed)
        print(f"{args.model} {name}, batch {batch}, {args.steps} steps, {args.threads} threads: "
              f"qat-train {our_speed:.0f} images/s, {peer} {their_speed:.0f} images/s: "
              f"ratio {ratios[-1]:.2f}", flush=True)
    if args.repeat > 1:
        print(f"{args.model} {name}, {args.threads} threads: median ratio "
              f"{statistics.median(ratios):.2f} over {args.repeat} alternations "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})", flush=True)
