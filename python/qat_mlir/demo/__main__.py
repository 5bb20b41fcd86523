"""qat-mlir's end-to-end demo on the embedded Fashion-MNIST data.

    python3 -m qat_mlir.demo [--train-limit N]

1. Imports the small CNN (PyTorch, seeded random initialization) from
   TorchScript.
2. Trains it from scratch with qat-train: --qat-prepare (per-tensor int8
   weights, uint8 activations), StatAssist (1 FP warm-up epoch), GradBoost,
   2 QAT epochs, target-exact (the quantized layers compute the integer
   arithmetic of the deployed code).
3. Compiles the trained module with qat-compile to int8 programs for this
   x86 CPU (the `host` target: AVX512-VNNI, AVX-VNNI, AVX2 or generic,
   whichever is the best it runs; the demo names it) and AArch64
   (dot-product; run under qemu-aarch64), and for comparison the trained
   evaluation function as it is (the QAT reference) and the trained weights
   without quantization (fp32).
4. Classifies the 10,000 test images with each program and prints the
   accuracies, the agreement of the int8 programs with the QAT forward
   (identical outputs expected), latency and object size.
5. Plots the training curves (loss and accuracies per epoch, from
   qat-train's CSV log) into a PNG (--plot).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

from qat_mlir import datasets, find_tool, models

BATCH = 50


def run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"qat-mlir demo: {' '.join(command)} failed:\n{done.stderr}")
    return done.stdout


def classify(exe, data, logits_path, qemu=None):
    """Runs a compiled classifier on the test set; returns its logits,
    accuracy (%) and microseconds per image."""
    command = [exe, os.path.join(data, "t10k-images-idx3-ubyte.gz"),
               os.path.join(data, "t10k-labels-idx1-ubyte.gz"),
               "--logits", logits_path]
    if qemu:
        command = ["qemu-aarch64-static", "-cpu", qemu] + command
    summary = run(command)
    accuracy = float(re.search(r"accuracy ([0-9.]+)%", summary).group(1))
    latency = float(re.search(r"([0-9.]+) us per image", summary).group(1))
    return np.fromfile(logits_path, dtype=np.float32).reshape(-1, 10), accuracy, latency


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=datasets.FASHION_MNIST_DIR,
                        help="directory with the Fashion-MNIST IDX files")
    parser.add_argument("--train-limit", type=int, default=0,
                        help="train on the first N images only (0: all 60,000)")
    parser.add_argument("--keep", help="keep the files in this directory")
    parser.add_argument("--plot", default="qat-demo-training.png",
                        help="PNG of the training curves (default: %(default)s)")
    args = parser.parse_args()

    import torch

    tmp = tempfile.TemporaryDirectory(prefix="qat-demo-")
    work = args.keep or tmp.name
    os.makedirs(work, exist_ok=True)
    path = lambda name: os.path.join(work, name)

    # 1. Import.
    torch.manual_seed(0)
    torch.jit.trace(models.SmallCNN().train(), torch.zeros(BATCH, 1, 28, 28)).save(path("small_cnn.pt"))
    start = time.perf_counter()
    run([find_tool("qat-import"), path("small_cnn.pt"), "--mode", "train",
         "--input-shape", f"{BATCH}x1x28x28", "-o", path("small_cnn.mlir")])
    print(f"1. qat-import: small CNN (TorchScript, train mode) -> MLIR in "
          f"{time.perf_counter() - start:.1f} s", flush=True)

    # 2. Train from scratch.
    images = args.train_limit or 60000
    print(f"2. qat-train: from scratch on {images} training images, StatAssist "
          f"(1 FP warm-up epoch) + GradBoost + 2 QAT epochs, target-exact ...",
          flush=True)
    start = time.perf_counter()
    log = run([find_tool("qat-train"), path("small_cnn.mlir"), "--qconfig", "per-tensor",
               "--target-exact", "--fp-warmup-epochs", "1", "--epochs", "2",
               "--grad-boost", "--train-limit", str(args.train_limit),
               "--log", path("train.csv"), "-o", path("trained.mlir")])
    for line in log.splitlines():
        if line.startswith("epoch"):
            print("   " + line)
    qat_accuracy = float(re.findall(r"test accuracy ([0-9.]+)%", log)[-1])
    print(f"   trained in {time.perf_counter() - start:.0f} s; QAT test accuracy "
          f"{qat_accuracy:.2f}%", flush=True)

    # 3. Compile.
    start = time.perf_counter()
    compile_tool = find_tool("qat-compile")
    host = next(line.split()[1] for line in run([compile_tool, "--print-targets"]).splitlines()
                if line.startswith("host "))
    programs = {
        f"int8 {host}": [f"--target={host}"],
        "int8 aarch64-dotprod": ["--target=aarch64-dotprod"],
        "QAT reference (f32)": [f"--target={host}", "--keep-float"],
    }
    for name, options in programs.items():
        stem = path(name.split()[0] + "-" + name.split()[1])
        run([compile_tool, path("trained.mlir"), *options, "--emit=exe", "-o", stem])
        run([compile_tool, path("trained.mlir"), *options, "--emit=obj", "-o", stem + ".o"])
    # fp32: the trained weights in the plain model, no quantization at all.
    run([find_tool("qat-export"), path("trained.mlir"), "-o", path("trained.pt")])
    fp32 = models.SmallCNN().eval()
    fp32.load_state_dict(torch.load(path("trained.pt")), strict=False)
    torch.jit.trace(fp32, torch.zeros(BATCH, 1, 28, 28)).save(path("fp32.pt"))
    run([find_tool("qat-import"), path("fp32.pt"), "--input-shape", f"{BATCH}x1x28x28",
         "-o", path("fp32.mlir")])
    for emit, out in (("exe", path("fp32-x86")), ("obj", path("fp32-x86.o"))):
        run([compile_tool, path("fp32.mlir"), "--keep-float", "--function=forward",
             f"--target={host}", f"--emit={emit}", "-o", out])
    print(f"3. qat-compile: int8 for {host} (this CPU's best target) and aarch64-dotprod, the "
          f"f32 QAT reference and fp32 in {time.perf_counter() - start:.1f} s", flush=True)

    # 4. Classify the test set.
    reference, ref_accuracy, ref_latency = classify(path("QAT-reference"), args.data,
                                                    path("reference.logits"))
    print(f"4. the 10,000 test images:")
    print(f"   QAT reference (trained evaluation function, f32): accuracy "
          f"{ref_accuracy:.2f}%, {ref_latency:.0f} us/image")
    ok = abs(ref_accuracy - qat_accuracy) < 1e-9
    for name, exe, qemu in ((f"int8 {host}", f"int8-{host}", None),
                            ("int8 aarch64-dotprod", "int8-aarch64-dotprod", "max")):
        logits, accuracy, latency = classify(path(exe), args.data, path(exe + ".logits"), qemu)
        same = logits.tobytes() == reference.tobytes()
        agree = int((logits.argmax(1) == reference.argmax(1)).sum())
        where = " under qemu (correctness only)" if qemu else ""
        print(f"   {name}: accuracy {accuracy:.2f}%, predictions equal to the QAT "
              f"forward's: {agree} of 10000, outputs identical: {same}, "
              f"{latency:.0f} us/image{where}")
        ok = ok and same and abs(accuracy - qat_accuracy) < 1e-9
        if not qemu:
            int8_latency = latency
    _, fp32_accuracy, fp32_latency = classify(path("fp32-x86"), args.data, path("fp32.logits"))
    print(f"   fp32 (trained weights, no quantization): accuracy {fp32_accuracy:.2f}%, "
          f"{fp32_latency:.0f} us/image")
    int8_size = os.path.getsize(path(f"int8-{host}.o"))
    fp32_size = os.path.getsize(path("fp32-x86.o"))
    print(f"summary: QAT {qat_accuracy:.2f}% = int8 x86 ({host}) = int8 AArch64 (identical "
          f"outputs: {ok}); fp32 weights {fp32_accuracy:.2f}%; int8 vs fp32 on x86: latency "
          f"{int8_latency:.0f} vs {fp32_latency:.0f} us/image ({fp32_latency / int8_latency:.2f}x), "
          f"object {int8_size // 1024} vs {fp32_size // 1024} KiB")
    plot_training(path("train.csv"), args.plot, int8_accuracy=ref_accuracy)
    print(f"5. training curves: {args.plot}")
    return 0 if ok else 1


def plot_training(log_path, png_path, int8_accuracy):
    """Loss and accuracies per epoch (qat-train's CSV log) as a PNG."""
    import csv

    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    with open(log_path) as f:
        rows = list(csv.DictReader(f))
    epochs = [int(r["epoch"]) for r in rows]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_axes.plot(epochs, [float(r["train_loss"]) for r in rows], "o-")
    loss_axes.set(title="training loss", xlabel="epoch")
    accuracy_axes.plot(epochs, [float(r["train_accuracy"]) for r in rows], "o-", label="train")
    accuracy_axes.plot(epochs, [float(r["test_accuracy"]) for r in rows], "s-", label="test")
    accuracy_axes.axhline(int8_accuracy, color="gray", linestyle="--", label="int8 program")
    accuracy_axes.set(title="accuracy (%)", xlabel="epoch")
    accuracy_axes.legend()
    for axes in (loss_axes, accuracy_axes):
        axes.set_xticks(epochs)
        axes.set_xticklabels([f"{e}{' FP' if r['phase'] == 'fp' else ''}"
                              for e, r in zip(epochs, rows)])
    figure.suptitle("small CNN on Fashion-MNIST: StatAssist (FP epochs) + GradBoost QAT")
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
