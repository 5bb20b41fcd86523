"""Training throughput of qat-train against PyTorch 1.13 eager, side by side.

    /usr/bin/python3 benchmarks/training-vs-pytorch.py [--steps 50] [--threads 2]

The small CNN of the training issue, batch 64, SGD with momentum and
Nesterov, on the first images of Fashion-MNIST. qat-train's figure is its
own images/s over one epoch (both sides on --threads threads) of `steps` batches (step function calls plus
batch assembly, without the JIT compile); PyTorch's is the same loop in
eager mode (forward, cross-entropy, backward, optimizer step).
"""

import argparse
import csv
import os
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
args = parser.parse_args()
batch = 64

torch.set_num_threads(args.threads)
torch.manual_seed(0)
model = models.SmallCNN().train()
with tempfile.TemporaryDirectory() as tmp:
    torch.jit.trace(model, torch.randn(batch, 1, 28, 28), check_trace=False).save(f"{tmp}/m.pt")
    subprocess.run([qat_mlir.find_tool("qat-train"), f"{tmp}/m.pt", "--epochs", "1",
                    "--train-limit", str(batch * args.steps), "--test-limit", str(batch),
                    "--num-threads", str(args.threads),
                    "--log", f"{tmp}/log.csv", "--no-progress"], check=True,
                   stdout=subprocess.DEVNULL)
    ours = float(next(csv.DictReader(open(f"{tmp}/log.csv")))["images_per_second"])

images, labels = datasets.fashion_mnist("train")
x = torch.from_numpy(datasets.normalize(images[:batch * args.steps])[:, None])
y = torch.from_numpy(labels[:batch * args.steps].astype("int64"))
optimizer = torch.optim.SGD(model.parameters(), lr=5e-3, momentum=0.9, nesterov=True,
                            weight_decay=1e-7)
start = time.perf_counter()
for step in range(args.steps):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x[step * batch:(step + 1) * batch]),
                           y[step * batch:(step + 1) * batch])
    loss.backward()
    optimizer.step()
theirs = batch * args.steps / (time.perf_counter() - start)
print(f"small CNN, batch {batch}, {args.steps} steps: qat-train {ours:.0f} images/s "
      f"({args.threads} threads), PyTorch eager {theirs:.0f} images/s ({args.threads} threads): "
      f"ratio {ours / theirs:.2f}")
