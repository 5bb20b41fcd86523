#!/usr/bin/env python3
"""Data-parallel training on this machine: 2 MPI ranks x 1 thread against one
process x 2 threads (and x 1), on the small CNN.

Each configuration trains the small CNN on the first 12,800 Fashion-MNIST
training images, global batch 64, with StatAssist (1 FP epoch) and GradBoost,
target-exact QAT (qat-train's own loop); the QAT epoch's images/s is read from
its output, and for 2 ranks also the share of rank 0's epoch spent in the
steps' all-reductions (transfers, rank-order sums and waiting for the other
rank). Configurations alternate over the repeats; medians are reported.

Usage (from the repository root, after ./utils/run-tests.sh built it):
    PYTHONPATH=python QAT_MLIR_TOOLS_DIR=build/bin \\
        python3 benchmarks/distributed-scaling.py [--repeats 3]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile

import numpy as np
import torch

import qat_mlir
from qat_mlir import datasets, models

BATCH, IMAGES = 64, 12800
MPI_ENV = dict(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl="self,vader,tcp", OMPI_MCA_btl_tcp_if_include="lo",
               OMPI_MCA_oob_tcp_if_include="lo")


def cpu_name():
    with open("/proc/cpuinfo") as f:
        match = re.search(r"model name\s*:\s*(.*)", f.read())
    return match.group(1) if match else "unknown CPU"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    mpirun = shutil.which("mpirun")
    if not mpirun:
        raise SystemExit("mpirun is missing: install openmpi-bin")
    work = tempfile.mkdtemp(prefix="qat-dist-bench-")
    images, labels = datasets.fashion_mnist("train")
    np.savez(os.path.join(work, "data.npz"), train_images=images[:IMAGES, None],
             train_labels=labels[:IMAGES], test_images=images[:BATCH, None],
             test_labels=labels[:BATCH])
    torch.manual_seed(0)
    pt = os.path.join(work, "small_cnn.pt")
    torch.jit.trace(models.SmallCNN().train(), torch.zeros(BATCH, 1, 28, 28)).save(pt)
    env = dict(os.environ, **MPI_ENV)

    def run(ranks, threads):
        command = [qat_mlir.find_tool("qat-train"), pt, "--data", os.path.join(work, "data.npz"),
                   "--qconfig", "per-tensor", "--target-exact", "--fp-warmup-epochs", "1",
                   "--grad-boost", "--epochs", "1", "--batch-size", str(BATCH),
                   "--num-threads", str(threads), "--no-progress",
                   "--cache-dir", os.path.join(work, "cache")]
        if ranks > 1:
            command = [mpirun, "--oversubscribe", "-np", str(ranks), *command, "--distributed"]
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
        speed = float(re.findall(r"([0-9.]+) images/s", out)[-1])
        share = re.findall(r"spent ([0-9.]+)% of the epoch", out)
        return speed, float(share[-1]) if share else None

    configs = [(1, 1), (1, 2), (2, 1)]
    for ranks, threads in configs:  # compile into the cache first
        run(ranks, threads)
    results = {c: [] for c in configs}
    for _ in range(args.repeats):
        for config in configs:
            results[config].append(run(*config))
    base = statistics.median(s for s, _ in results[(1, 1)])
    print(f"CPU: {cpu_name()}; small CNN, global batch {BATCH}, QAT epoch of {IMAGES} images, "
          f"medians of {args.repeats}")
    print("| configuration | images/s | vs 1 process x 1 thread | all-reduce share (rank 0) |")
    print("|---|---|---|---|")
    for (ranks, threads), values in results.items():
        speed = statistics.median(s for s, _ in values)
        shares = [p for _, p in values if p is not None]
        share = f"{statistics.median(shares):.1f}%" if shares else "-"
        label = f"{ranks} rank{'s' if ranks > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"
        print(f"| {label} | {speed:.0f} | {speed / base:.2f}x | {share} |")


if __name__ == "__main__":
    main()
