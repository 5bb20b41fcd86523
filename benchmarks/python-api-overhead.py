"""The Python API's overhead against the tools, in one run.

    PYTHONPATH=python /usr/bin/python3 benchmarks/python-api-overhead.py [--repeats 5]

1. Training-step throughput: the small CNN (batch 64, StatAssist +
   GradBoost, target-exact QAT epochs) on 12,800 Fashion-MNIST images, 2
   threads, measured three ways, alternating, the median of the repeats:
   - qat-train: the QAT epoch's images/s it reports (its C++ loop: shuffle,
     normalize, step);
   - Trainer.fit on the same arrays (Python loop: shuffle, normalize with
     NumPy, Trainer.step);
   - Trainer.step alone on pre-normalized batches (the call's own cost).
   All three run the same compiled step (the compile cache is warm).
2. compile(): the first call on a cold cache and the second call (the
   cache's), in seconds.
Prints a Markdown table and the host CPU.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time

import numpy as np
import torch

import qat_mlir
from qat_mlir import datasets, models

BATCH, IMAGES, THREADS = 64, 12800, 2
OPTIONS = dict(qconfig="per-tensor", target_exact=True, stat_assist_epochs=1,
               grad_boost=True, lr=5e-3, seed=0, threads=THREADS)


def cpu_name():
    with open("/proc/cpuinfo") as f:
        match = re.search(r"model name\s*:\s*(.*)", f.read())
    return match.group(1) if match else platform.processor()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="qat-api-bench-")
    os.environ["QAT_MLIR_CACHE_DIR"] = os.path.join(work, "cache")
    images, labels = datasets.fashion_mnist("train")
    images, labels = images[:IMAGES], labels[:IMAGES]
    torch.manual_seed(0)
    pt = os.path.join(work, "small_cnn.pt")
    torch.jit.trace(models.SmallCNN().train(), torch.zeros(BATCH, 1, 28, 28)).save(pt)
    np.savez(os.path.join(work, "data.npz"), train_images=images[:, None], train_labels=labels,
             test_images=images[:BATCH, None], test_labels=labels[:BATCH])
    module = qat_mlir.import_module(pt, (BATCH, 1, 28, 28))

    def qat_train():
        out = subprocess.run(
            [qat_mlir.find_tool("qat-train"), pt, "--data", os.path.join(work, "data.npz"),
             "--qconfig", "per-tensor", "--target-exact", "--fp-warmup-epochs", "1",
             "--grad-boost", "--epochs", "1", "--num-threads", str(THREADS),
             "--no-progress"], check=True, capture_output=True, text=True).stdout
        return float(re.findall(r"([0-9.]+) images/s", out)[-1])

    def fit():
        trainer = qat_mlir.Trainer(module, **OPTIONS)
        history = trainer.fit((images, labels), epochs=1, progress=False)
        return history[-1]["images_per_second"]

    trainer = qat_mlir.Trainer(module, **OPTIONS)
    trainer.epoch = 1  # the QAT step
    normalized = datasets.normalize(images)[:, None]
    batches = [(np.ascontiguousarray(normalized[i:i + BATCH]), labels[i:i + BATCH].astype(np.int64))
               for i in range(0, IMAGES, BATCH)]

    def steps():
        start = time.perf_counter()
        for x, y in batches:
            trainer.step(x, y)
        return IMAGES / (time.perf_counter() - start)

    results = {"qat-train": [], "Trainer.fit": [], "Trainer.step": []}
    qat_train()  # warms the compile cache
    for _ in range(args.repeats):
        results["qat-train"].append(qat_train())
        results["Trainer.fit"].append(fit())
        results["Trainer.step"].append(steps())
    base = statistics.median(results["qat-train"])

    cold = tempfile.mkdtemp(dir=work)
    start = time.perf_counter()
    first = qat_mlir.compile(trainer, cache_dir=cold)
    first_seconds = time.perf_counter() - start
    start = time.perf_counter()
    second = qat_mlir.compile(trainer, cache_dir=cold)
    second_seconds = time.perf_counter() - start

    print(f"host: {cpu_name()} (target {qat_mlir.host_target()}), {THREADS} threads, "
          f"{args.repeats} alternating repeats, medians")
    print("| training loop | images/s | time vs qat-train |")
    print("|---|---|---|")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.0f} | {base / median:.3f}x |")
    print(f"compile(): first call {first_seconds:.2f} s (from cache: {first.loaded_from_cache}), "
          f"second call {second_seconds:.2f} s (from cache: {second.loaded_from_cache})")


if __name__ == "__main__":
    main()
