# 7-bit activations end to end: the small CNN trained from scratch with
# target-exact QAT on uint7 activation codes (qat-train
# --qconfig-activations=uint7, PyTorch's reduce_range), compiled for
# x86_64-avx2, where every convolution is proven not to saturate vpmaddubsw
# and runs on that faster kernel (--report-kernels says so per layer). On
# all 10,000 test images its outputs equal the trained float reference's,
# the generic target's and the exact-kernel build's (--qat-int8-conv-to-mmt4d
# without proven pairs is not reachable from qat-compile, so the generic
# program stands for it), bit for bit, and the accuracy is the trainer's.
# Where this CPU lacks AVX2 the program is compiled, its assembly checked
# for vpmaddubsw, and not run.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: trained (uint7 activations): test accuracy [[ACC:[0-9.]+]]%
# CHECK: x86_64-avx2: 2 of 2 convolutions on avx2-vpmaddubsw (proven for codes in [0, 127])
# CHECK: reference (keep-float): 10000 images, accuracy [[ACC]]%
# CHECK: int8 x86_64-generic: 10000 images, accuracy [[ACC]]%, outputs identical to the reference
# CHECK: int8 x86_64-avx2 (vpmaddubsw): {{10000 images, accuracy [0-9.]+%, outputs identical to the reference|assembly checked: this CPU lacks avx2}}

import os
import re
import subprocess
import sys

import numpy as np
import torch

from qat_mlir import models
from qat_mlir.tools import find_tool

out = sys.argv[1]
data = "/usr/share/datasets/fashion-mnist"
images = f"{data}/t10k-images-idx3-ubyte.gz"
labels = f"{data}/t10k-labels-idx1-ubyte.gz"


def run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    return done


torch.manual_seed(0)
model_pt = os.path.join(out, "small.pt")
torch.jit.trace(models.SmallCNN().train(), torch.zeros(1, 1, 28, 28)).save(model_pt)
trained = os.path.join(out, "trained.mlir")
log = run([find_tool("qat-train"), model_pt, "--qconfig", "per-tensor",
           "--qconfig-activations", "uint7", "--target-exact", "--fp-warmup-epochs", "1",
           "--epochs", "1", "--grad-boost", "--train-limit", "2000", "--batch-size", "50",
           "-o", trained]).stdout
accuracy = re.findall(r"test accuracy ([0-9.]+)%", log)[-1]
print(f"trained (uint7 activations): test accuracy {accuracy}%")
# The trained module's activation grids are 7-bit.
assert "ui8[0 : 127]" in open(trained).read()

# Which kernel runs each convolution.
asm = os.path.join(out, "avx2.s")
report = run([find_tool("qat-compile"), trained, "--target=x86_64-avx2", "--report-kernels",
              "--emit=asm", "-o", asm]).stderr
proven = re.findall(r"remark: int8 convolution on avx2-vpmaddubsw: no weight pair can saturate "
                    r"for codes in \[0, 127\]", report)
total = len(re.findall(r"remark: int8 convolution", report))
print(f"x86_64-avx2: {len(proven)} of {total} convolutions on avx2-vpmaddubsw "
      "(proven for codes in [0, 127])")
assert "vpmaddubsw" in open(asm).read()


def classify(target, extra=()):
    exe = os.path.join(out, f"model-{target}{''.join(extra)}")
    run([find_tool("qat-compile"), trained, f"--target={target}", "--emit=exe", "-o", exe,
         *extra])
    logits = exe + ".logits"
    summary = run([exe, images, labels, "--logits", logits]).stdout
    match = re.search(r"(\d+) images, (\d+) correct, accuracy ([0-9.]+)%", summary)
    return np.fromfile(logits, dtype=np.float32), int(match.group(1)), match.group(3)


reference, count, ref_accuracy = classify("x86_64-generic", ["--keep-float"])
print(f"reference (keep-float): {count} images, accuracy {ref_accuracy}%")
logits, count, acc = classify("x86_64-generic")
assert logits.tobytes() == reference.tobytes(), "x86_64-generic: outputs differ"
print(f"int8 x86_64-generic: {count} images, accuracy {acc}%, outputs identical to the reference")

targets = {line[6:].split()[0]: line[:5].strip()
           for line in run([find_tool("qat-compile"), "--print-targets"]).stdout.splitlines()}
if targets["x86_64-avx2"] in ("host", "runs"):
    logits, count, acc = classify("x86_64-avx2")
    assert logits.tobytes() == reference.tobytes(), "x86_64-avx2: outputs differ"
    assert acc == accuracy, (acc, accuracy)
    print(f"int8 x86_64-avx2 (vpmaddubsw): {count} images, accuracy {acc}%, "
          "outputs identical to the reference")
else:
    print("int8 x86_64-avx2 (vpmaddubsw): assembly checked: this CPU lacks avx2")
