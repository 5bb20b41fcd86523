# Data-parallel QAT on MPI (qat-train --distributed under mpirun), on one
# machine over loopback: a CNN with batch norms, QAT from scratch with
# StatAssist (1 FP warm-up epoch) and GradBoost, on a 3 x 16 x 16 colour
# data set generated here, global batch 48.
#
# - 2 ranks: every rank holds the same state after every epoch
#   (--check-replicas compares hashes of every tensor), and the same run
#   twice writes the same bytes.
# - A run stopped after epoch 1 on 2 ranks resumes on 3 (the module is
#   rebatched from 24 to 16 images per rank), replicas identical.
# - 2 ranks with synchronized batch norm against one process with the same
#   global batch, after the FP warm-up epoch (20 steps): the parameters
#   and batch-norm statistics differ only by the order of the sums (at
#   most 6e-8 measured, on values up to 1.4; bounded at 1e-6 relative).
# - 2 ranks (each rank's own batch-norm statistics) against one process,
#   the whole run, over 3 seeds: the accuracies agree within 3 points
#   (measured: 90.70% and 90.56% on average).
# - Misuse fails clearly: a global batch that does not divide among the
#   ranks, --check-replicas without --distributed.
#
# REQUIRES: mpi
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t "%mpirun" | FileCheck %s
#
# CHECK: 2 ranks: data-parallel over 2 ranks: 24 images per rank and step, global batch 48
# CHECK: 2 ranks: epoch 1: the 2 replicas' states are identical
# CHECK: 2 ranks: epoch 2: the 2 replicas' states are identical
# CHECK: 2 ranks: epoch 3: the 2 replicas' states are identical
# CHECK: 2 ranks: test accuracy {{[0-9.]+}}% (at least 85%)
# CHECK: resumed on 3 ranks: data-parallel over 3 ranks: 16 images per rank and step, global batch 48
# CHECK: resumed on 3 ranks: epoch 2: the 3 replicas' states are identical
# CHECK: resumed on 3 ranks: epoch 3: the 3 replicas' states are identical
# CHECK: resumed on 3 ranks: test accuracy {{[0-9.]+}}% (at least 85%)
# CHECK: 2 ranks (synchronized batch norm) vs 1 process, 1 epoch: largest parameter difference {{.*}} (relative to the largest parameter, at most 1e-6)
# CHECK: seed 0: 1 process {{[0-9.]+}}%, 2 ranks {{[0-9.]+}}%
# CHECK: the same run again: identical trained module
# CHECK: seed 1: 1 process {{[0-9.]+}}%, 2 ranks {{[0-9.]+}}%
# CHECK: seed 2: 1 process {{[0-9.]+}}%, 2 ranks {{[0-9.]+}}%
# CHECK: mean over 3 seeds: 1 process {{[0-9.]+}}%, 2 ranks {{[0-9.]+}}% (within 3 points)
# CHECK: indivisible batch: {{.*}}error: --distributed: the global batch of 50 images does not divide among 3 ranks
# CHECK: check without distribution: {{.*}}error: --sync-batch-norm and --check-replicas go with --distributed
# CHECK: no output file after the errors

import os
import re
import shlex
import subprocess
import sys

import numpy as np
import torch
from torch import nn

import qat_mlir

out, mpirun = sys.argv[1], shlex.split(sys.argv[2])
GLOBAL_BATCH = 48
COLOURS = np.array([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0], [1.0, 1.0, 0.2]])


def make_images(count, seed):
    """Noise plus a tinted 6x6 square in the class's quadrant."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, count)
    images = rng.uniform(0, 150, (count, 3, 16, 16))
    for i, label in enumerate(labels):
        top, left = 8 * (label // 2) + rng.integers(0, 3), 8 * (label % 2) + rng.integers(0, 3)
        images[i, :, top:top + 6, left:left + 6] += 30 * COLOURS[label][:, None, None]
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


train_images, train_labels = make_images(960, 1)
test_images, test_labels = make_images(240, 2)
data = f"{out}/set.npz"
np.savez(data, train_images=train_images, train_labels=train_labels,
         test_images=test_images, test_labels=test_labels)

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 4 * 4, 4)).train()
model_path = f"{out}/cnn.pt"
torch.jit.trace(model, torch.randn(GLOBAL_BATCH, 3, 16, 16), check_trace=False).save(model_path)

COMMON = ["--data", data, "--qconfig", "per-tensor", "--fp-warmup-epochs", "1", "--epochs", "2",
          "--grad-boost", "--num-threads", "1", "--no-progress", "--cache-dir", f"{out}/cache"]


def train(model, output, ranks=None, *args, check=True):
    command = [qat_mlir.find_tool("qat-train"), model, *COMMON, "-o", output, *args]
    if ranks:
        command = [*mpirun, "-np", str(ranks), *command, "--distributed"]
    done = subprocess.run(command, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def accuracy(stdout):
    return float(re.findall(r"test accuracy ([0-9.]+)%", stdout)[-1])


def report(label, stdout):
    for line in stdout.splitlines():
        if "data-parallel" in line or "replicas' states" in line:
            print(f"{label}: {line}")
    acc = accuracy(stdout)
    print(f"{label}: test accuracy {acc:.2f}% (at least 85%)" if acc >= 85 else
          f"{label}: test accuracy {acc:.2f}% BELOW 85%")


def state(path):
    exported = f"{path}.state.pt"
    subprocess.run([qat_mlir.find_tool("qat-export"), path, "-o", exported], check=True)
    return {k: v.numpy() for k, v in torch.load(exported).items()
            if v.dtype == torch.float32}


# Two ranks, replicas compared after every epoch; the same run twice.
first = train(model_path, f"{out}/two.mlir", 2, "--batch-size", str(GLOBAL_BATCH), "--check-replicas")
report("2 ranks", first.stdout)

# Stopped after the warm-up on 2 ranks, resumed on 3.
train(model_path, f"{out}/stopped.mlir", 2, "--batch-size", str(GLOBAL_BATCH), "--stop-after-epoch", "1")
resumed = train(f"{out}/stopped.mlir", f"{out}/resumed.mlir", 3, "--batch-size", str(GLOBAL_BATCH),
                "--check-replicas")
report("resumed on 3 ranks", resumed.stdout)

# Synchronized batch norm: 2 ranks against one process, after one epoch.
train(model_path, f"{out}/sync.mlir", 2, "--batch-size", str(GLOBAL_BATCH), "--sync-batch-norm",
      "--stop-after-epoch", "1")
train(model_path, f"{out}/single.mlir", None, "--batch-size", str(GLOBAL_BATCH), "--stop-after-epoch", "1")
sync, single = state(f"{out}/sync.mlir"), state(f"{out}/single.mlir")
# The model's parameters and batch-norm statistics.
names = [k for k, v in model.state_dict().items() if v.dtype == torch.float32]
largest = max(float(np.abs(single[k]).max()) for k in names)
difference = max(float(np.abs(sync[k] - single[k]).max()) for k in names)
print(f"2 ranks (synchronized batch norm) vs 1 process, 1 epoch: largest parameter difference "
      f"{difference:.3g} of {largest:.3g} (relative to the largest parameter, "
      + ("at most 1e-6)" if difference <= 1e-6 * largest else "ABOVE 1e-6)"))

# Accuracy over 3 seeds, the whole run.
means = [[], []]
for seed in range(3):
    one = accuracy(train(model_path, f"{out}/seed{seed}-1.mlir", None, "--batch-size", str(GLOBAL_BATCH),
                         "--seed", str(seed)).stdout)
    two = accuracy(train(model_path, f"{out}/seed{seed}-2.mlir", 2, "--batch-size", str(GLOBAL_BATCH),
                         "--seed", str(seed)).stdout)
    means[0].append(one)
    means[1].append(two)
    print(f"seed {seed}: 1 process {one:.2f}%, 2 ranks {two:.2f}%")
    if seed == 0:
        # The first run again (seed 0 is the default).
        same = open(f"{out}/two.mlir", "rb").read() == open(f"{out}/seed0-2.mlir", "rb").read()
        print("the same run again: " + ("identical trained module" if same else "DIFFERENT trained module"))
one, two = np.mean(means[0]), np.mean(means[1])
print(f"mean over 3 seeds: 1 process {one:.2f}%, 2 ranks {two:.2f}% "
      + ("(within 3 points)" if abs(one - two) <= 3 else "(MORE than 3 points apart)"))

# Misuse.
def first_error(done):
    return next(line for line in done.stderr.splitlines() if "error:" in line)


done = train(model_path, f"{out}/bad.mlir", 3, "--batch-size", "50", check=False)
print("indivisible batch: " + first_error(done))
done = train(model_path, f"{out}/bad.mlir", None, "--check-replicas", check=False)
print("check without distribution: " + first_error(done))
print("no output file after the errors" if not os.path.exists(f"{out}/bad.mlir") else "bad.mlir WRITTEN")
