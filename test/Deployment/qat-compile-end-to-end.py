# The whole path on the small CNN (or, with a second argument, another
# model: qat-compile-mobilenet.test): trained briefly from scratch with
# target-exact QAT (StatAssist warm-up, GradBoost), compiled by qat-compile
# to int8 programs for every x86 target (AVX512-VNNI, AVX-VNNI, AVX2, generic:
# those this CPU runs are run, the others compiled and checked in assembly
# for their dot instruction) and AArch64 (dotprod, run under qemu-aarch64;
# the generic build also on a Cortex-A57, which has no dot-product
# instructions, where the dotprod build must refuse to run, naming the
# feature), and to the trained float reference (--keep-float: the evaluation
# function as trained, which is what the trainer's test accuracy measures).
# On all 10,000 test images every program gives the same output codes, bit
# for bit (also compiled for one image per call with --batch=1), and the
# int8 accuracy equals the accuracy the trainer reported.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: trained: test accuracy [[ACC:[0-9.]+]]%
# CHECK: reference (keep-float, host): 10000 images, accuracy [[ACC]]%
# CHECK: int8 host: 10000 images, accuracy [[ACC]]%, outputs identical to the reference
# CHECK: int8 x86_64-avx512vnni: {{ran: outputs identical to the reference|assembly checked: vpdpbusd}}
# CHECK: int8 x86_64-avxvnni: {{ran: outputs identical to the reference|assembly checked: vpdpbusd}}
# CHECK: int8 x86_64-avx2: {{ran: outputs identical to the reference|assembly checked: vpmaddwd}}
# CHECK: int8 x86_64-generic: ran: outputs identical to the reference
# CHECK: int8 aarch64-dotprod (qemu -cpu max): 10000 images, accuracy [[ACC]]%, outputs identical to the reference
# CHECK: int8 host batch 1: 10000 images, accuracy [[ACC]]%, outputs identical to the reference
# CHECK: reference host batch 1: 10000 images, accuracy [[ACC]]%, outputs identical to the reference
# CHECK: int8 aarch64-generic (qemu -cpu cortex-a57): 1000 images, outputs identical to the reference
# CHECK: int8 aarch64-dotprod (qemu -cpu cortex-a57): refused with exit 3, naming dotprod and aarch64-generic

import gzip
import os
import re
import subprocess
import sys

import numpy as np
import torch

from qat_mlir import models
from qat_mlir.tools import find_tool

out = sys.argv[1]
model_name = sys.argv[2] if len(sys.argv) > 2 else "small-cnn"
make_model = {"small-cnn": models.SmallCNN, "tiny-mobilenet": models.TinyMobileNet}[model_name]
data = "/usr/share/datasets/fashion-mnist"
images = f"{data}/t10k-images-idx3-ubyte.gz"
labels = f"{data}/t10k-labels-idx1-ubyte.gz"


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    return done.stdout


torch.manual_seed(0)
model_pt = os.path.join(out, f"{model_name}.pt")
torch.jit.trace(make_model().train(), torch.zeros(1, 1, 28, 28)).save(model_pt)
trained = os.path.join(out, "trained.mlir")
log = run([find_tool("qat-train"), model_pt, "--qconfig", "per-tensor",
           "--target-exact", "--fp-warmup-epochs", "1", "--epochs", "1",
           "--grad-boost", "--train-limit", "2000", "--batch-size", "50",
           "--num-threads", "1", "-o", trained])
accuracy = re.findall(r"test accuracy ([0-9.]+)%", log)[-1]
print(f"trained: test accuracy {accuracy}%")


def compile_and_run(target, extra=(), qemu=None, limit_images=None):
    exe = os.path.join(out, f"model-{target}{''.join(extra).replace('-', '_')}")
    run([find_tool("qat-compile"), trained, f"--target={target}", "--emit=exe",
         "-o", exe, *extra])
    logits = exe + ".logits"
    image_file, label_file = images, labels
    if limit_images:
        image_file = os.path.join(out, "subset-images.idx")
        label_file = os.path.join(out, "subset-labels.idx")
        with gzip.open(images) as f:
            raw = f.read()
        header = bytearray(raw[:16])
        header[4:8] = limit_images.to_bytes(4, "big")
        with open(image_file, "wb") as f:
            f.write(bytes(header) + raw[16:16 + limit_images * 784])
        with gzip.open(labels) as f:
            raw = f.read()
        header = bytearray(raw[:8])
        header[4:8] = limit_images.to_bytes(4, "big")
        with open(label_file, "wb") as f:
            f.write(bytes(header) + raw[8:8 + limit_images])
    command = [exe, image_file, label_file, "--logits", logits]
    if qemu:
        command = ["qemu-aarch64-static", "-cpu", qemu] + command
    summary = run(command)
    match = re.search(r"(\d+) images, (\d+) correct, accuracy ([0-9.]+)%", summary)
    return np.fromfile(logits, dtype=np.float32), int(match.group(1)), match.group(3)


# What this CPU runs, as qat-compile sees it.
targets = {line[6:].split()[0]: line[:5].strip()
           for line in run([find_tool("qat-compile"), "--print-targets"]).splitlines()}
host = next(name for name, mark in targets.items() if mark == "host")

reference, count, ref_accuracy = compile_and_run("host", ["--keep-float"])
print(f"reference (keep-float, host): {count} images, accuracy {ref_accuracy}%")
logits, count, acc = compile_and_run("host")
assert logits.tobytes() == reference.tobytes(), f"host ({host}): outputs differ"
print(f"int8 host: {count} images, accuracy {acc}%, outputs identical to the reference")

# Every x86 target: run where this CPU can, else its assembly holds the
# target's dot instruction (and the program refuses to run: see below).
DOT = {"x86_64-avx512vnni": "vpdpbusd", "x86_64-avxvnni": "vpdpbusd", "x86_64-avx2": "vpmaddwd"}
for target in ("x86_64-avx512vnni", "x86_64-avxvnni", "x86_64-avx2", "x86_64-generic"):
    if targets[target] in ("host", "runs"):
        logits, count, acc = compile_and_run(target)
        assert logits.tobytes() == reference.tobytes(), f"{target}: outputs differ"
        assert acc == accuracy, (target, acc, accuracy)
        print(f"int8 {target}: ran: outputs identical to the reference")
    else:
        asm = os.path.join(out, f"model-{target}.s")
        run([find_tool("qat-compile"), trained, f"--target={target}", "--emit=asm", "-o", asm])
        assert DOT[target] in open(asm).read(), f"{target}: no {DOT[target]}"
        exe = os.path.join(out, f"model-{target}")
        run([find_tool("qat-compile"), trained, f"--target={target}", "--emit=exe", "-o", exe])
        done = subprocess.run([exe, images], capture_output=True, text=True)
        assert done.returncode == 3 and "this CPU lacks it" in done.stderr, done.stderr
        print(f"int8 {target}: assembly checked: {DOT[target]}")

for target, qemu in (("aarch64-dotprod", "max"),):
    logits, count, acc = compile_and_run(target, qemu=qemu)
    assert logits.tobytes() == reference.tobytes(), f"{target}: outputs differ"
    where = f" (qemu -cpu {qemu})" if qemu else ""
    print(f"int8 {target}{where}: {count} images, accuracy {acc}%, outputs identical to the reference")

# Compiled for one image per call (--qat-rebatch), the int8 program and the
# float reference still give the same codes.
for extra in (["--batch=1"], ["--batch=1", "--keep-float"]):
    logits, count, acc = compile_and_run("host", extra)
    assert logits.tobytes() == reference.tobytes(), f"{' '.join(extra)}: outputs differ"
    kind = "reference" if "--keep-float" in extra else "int8"
    print(f"{kind} host batch 1: {count} images, accuracy {acc}%, "
          "outputs identical to the reference")

logits, count, _ = compile_and_run("aarch64-generic", qemu="cortex-a57", limit_images=1000)
assert logits.tobytes() == reference[:logits.size].tobytes(), "aarch64-generic: outputs differ"
print(f"int8 aarch64-generic (qemu -cpu cortex-a57): {count} images, outputs identical to the reference")

# The run-time check: a Cortex-A57 has no dot-product instructions.
done = subprocess.run(["qemu-aarch64-static", "-cpu", "cortex-a57",
                       os.path.join(out, "model-aarch64-dotprod"), images],
                      capture_output=True, text=True)
assert done.returncode == 3, (done.returncode, done.stderr)
assert "'dotprod'" in done.stderr and "--target=aarch64-generic" in done.stderr, done.stderr
print("int8 aarch64-dotprod (qemu -cpu cortex-a57): refused with exit 3, naming dotprod "
      "and aarch64-generic")
