# qat-train and the other tools on bad inputs and bad luck: data whose
# images do not fit the model, IDX headers that overflow, empty test sets,
# labels out of range, non-finite options, a diverging run, a full disk
# during a checkpoint, and -o naming the input. Each ends with a clear
# error and a non-zero exit, and leaves the previous output intact and no
# temporary file behind.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: 32x32 data: error: {{.*}}: the train images are 1x32x32 (channels x height x width) but the model takes 1x28x28
# CHECK: 14x14 data: error: {{.*}}: the train images are 1x14x14 (channels x height x width) but the model takes 1x28x28
# CHECK: overflowing header: error: {{.*}}train-images-idx3-ubyte: IDX header promises more than 2^63 data bytes
# CHECK: empty test set: error: {{.*}}: the test set has no images
# CHECK: bad label: error: {{.*}}: train label 3 is 200 but the model has 10 classes
# CHECK: --momentum nan: error: the momentum must be finite and >= 0, not nan
# CHECK: --lr inf: error: the learning rate must be positive and finite, not INF
# CHECK: --lr-warmup-epochs inf: error: the learning-rate warm-up must be a finite number of epochs >= 0, not INF
# CHECK: --weight-decay-conv -1: error: weight decays must be finite and >= 0, not -1
# CHECK: --train-limit -5: error: the training and test limits must be >= 0 (0: all images), not -5
# CHECK: diverged: error: training diverged at epoch 2, step {{[0-9]+}}: the loss is {{nan|inf|-inf}} and parameter '{{[a-z0-9.]+}}' is {{.*}} after the update; {{.*}}out.mlir keeps the last finite epoch
# CHECK: diverged: exit 1, the checkpoint of epoch 1 intact
# CHECK: full disk: error: cannot save the trained module (the previous one is kept): '{{.*}}out.mlir': File too large
# CHECK: full disk: exit 1, the checkpoint of epoch 1 intact, no temporary files
# CHECK: qat-train -o input: qat-train: error: '{{.*}}ck.mlir' is the input model; write to another file
# CHECK: qat-import -o input: qat-import: error: -o '{{.*}}small.pt' is the input model; write the MLIR to another file
# CHECK: qat-opt -o input: qat-opt: error: -o '{{.*}}ck.mlir' is the input file; write the result to another file
# CHECK: inputs intact
# CHECK: NaN weights: error: state 'fc.bias' holds a non-finite value (nan at flat index 0): the model cannot be deployed
# CHECK: negative variance: error: the running variance 'bn1.running_var' of this batch norm is -1.000000e+00 at channel 0: a variance must be finite and >= 0 (a corrupt or diverged model)
# CHECK: --input-std=0: qat-compile: error: --input-mean must be finite and --input-std finite and positive
# CHECK: --input-std=nan: qat-compile: error: --input-mean must be finite and --input-std finite and positive
# CHECK: qat-compile wrote nothing
# CHECK: classifier, labels out of range: error: {{.*}}train-labels-idx1-ubyte: label 3 is 200 but the model has 10 classes
# CHECK: classifier, images from a pipe: model {{.*}}: 64 images, {{[0-9]+}} correct
# CHECK: classifier, gzip from a pipe: error: {{.*}}: a gzip file must be a regular file, not a pipe (decompress it first)

import gzip
import hashlib
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import torch

import qat_mlir
from qat_mlir import models

out = sys.argv[1]
tool = qat_mlir.find_tool
torch.manual_seed(0)
torch.jit.trace(models.SmallCNN().train(), torch.zeros(16, 1, 28, 28)).save(f"{out}/small.pt")
subprocess.run([tool("qat-import"), f"{out}/small.pt", "--mode", "train", "--input-shape",
                "16x1x28x28", "-o", f"{out}/small.mlir"], check=True)


def idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape)
    open(path, "wb").write(header + array.astype(np.uint8).tobytes())


def dataset(name, size=28, train=64, test=32, labels=None):
    directory = f"{out}/{name}"
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        idx(f"{directory}/{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, size, size)))
        y = rng.integers(0, 10, count) if labels is None or prefix == "t10k" else labels
        idx(f"{directory}/{prefix}-labels-idx1-ubyte", np.asarray(y))
    return directory


def train(*args, model=None):
    done = subprocess.run([tool("qat-train"), model or f"{out}/small.mlir", "--no-progress",
                           "--epochs", "1", *args], capture_output=True, text=True)
    error = next((line for line in done.stderr.splitlines() if "error:" in line), "")
    return done.returncode, error[error.find("error:"):]


def expect_error(label, *args, **kwargs):
    code, error = train(*args, **kwargs)
    assert code != 0, label
    print(f"{label}: {error}")


good = dataset("good")
expect_error("32x32 data", "--data", dataset("big", size=32))
expect_error("14x14 data", "--data", dataset("small", size=14))
overflow = dataset("overflow")
open(f"{overflow}/train-images-idx3-ubyte", "wb").write(
    struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
expect_error("overflowing header", "--data", overflow)
expect_error("empty test set", "--data", dataset("empty", test=0))
labels = np.zeros(64, dtype=np.int64)
labels[3] = 200
expect_error("bad label", "--data", dataset("labels", labels=labels))
for option, value in (("--momentum", "nan"), ("--lr", "inf"), ("--lr-warmup-epochs", "inf"),
                      ("--weight-decay-conv", "-1"), ("--train-limit", "-5")):
    expect_error(f"{option} {value}", "--data", good, f"{option}={value}")


def md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


# A checkpoint after epoch 1; then epoch 2 diverges (an absurd learning
# rate): the run stops at the first non-finite loss, naming a parameter.
code, error = train("--data", good, "-o", f"{out}/ck.mlir")
assert code == 0, error
shutil.copy(f"{out}/ck.mlir", f"{out}/out.mlir")
before = md5(f"{out}/out.mlir")
expect_error("diverged", "--data", good, "--epochs", "2", "--lr", "1e30", "-o",
             f"{out}/out.mlir", model=f"{out}/ck.mlir")
assert md5(f"{out}/out.mlir") == before
print("diverged: exit 1, the checkpoint of epoch 1 intact")

# A full disk while saving epoch 2: a file-size limit stands for it (the
# shell ignores SIGXFSZ, so the write fails with EFBIG; LLVM's handler
# prints a stack trace for the signal first).
limit = os.path.getsize(f"{out}/out.mlir") // 2 // 1024
done = subprocess.run(
    ["bash", "-c", f"trap '' XFSZ; ulimit -f {limit}; exec \"$@\"", "bash", tool("qat-train"),
     f"{out}/ck.mlir", "--no-progress", "--data", good, "--epochs", "2", "-o", f"{out}/out.mlir"],
    capture_output=True, text=True)
error = next(line for line in done.stderr.splitlines() if "error:" in line)
print(f"full disk: {error[error.find('error:'):]}")
assert done.returncode == 1 and md5(f"{out}/out.mlir") == before
leftovers = [name for name in os.listdir(out) if ".tmp-" in name or "temp-stream" in name]
assert not leftovers, leftovers
print("full disk: exit 1, the checkpoint of epoch 1 intact, no temporary files")

# -o naming the input.
inputs = {path: md5(path) for path in (f"{out}/ck.mlir", f"{out}/small.pt")}
for label, command in (
        ("qat-train -o input", [tool("qat-train"), f"{out}/ck.mlir", "--data", good, "-o", f"{out}/ck.mlir"]),
        ("qat-import -o input", [tool("qat-import"), f"{out}/small.pt", "-o", f"{out}/small.pt"]),
        ("qat-opt -o input", [tool("qat-opt"), f"{out}/ck.mlir", "-o", f"{out}/ck.mlir"])):
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1, (label, done.returncode)
    print(f"{label}: {done.stderr.strip().splitlines()[-1]}")
assert all(md5(path) == digest for path, digest in inputs.items())
print("inputs intact")

# qat-compile on a model whose trained state is not finite (a diverged run
# saved by other means), and on a normalization it would divide by zero.
import re
text = open(f"{out}/ck.mlir").read()
text, count = re.subn(r"(@fc\.bias\()dense<[^>]*>", r"\1dense<0x7FC00000>", text)
assert count == 1
open(f"{out}/nan.mlir", "w").write(text)
text = open(f"{out}/ck.mlir").read()
text, count = re.subn(r"(@bn1\.running_var\()dense<[^>]*>", r"\1dense<-1.0>", text)
assert count == 1
open(f"{out}/negative-variance.mlir", "w").write(text)
compile_tool = tool("qat-compile")
for label, args in (("NaN weights", [f"{out}/nan.mlir"]),
                    ("negative variance", [f"{out}/negative-variance.mlir"]),
                    ("--input-std=0", [f"{out}/ck.mlir", "--input-std=0"]),
                    ("--input-std=nan", [f"{out}/ck.mlir", "--input-std=nan"])):
    done = subprocess.run([compile_tool, *args, "--keep-float", "--function=forward_eval",
                           "--emit=mlir", "-o", f"{out}/deployed.mlir"], capture_output=True, text=True)
    assert done.returncode == 1, (label, done.stderr)
    error = next(line for line in done.stderr.splitlines() if "error:" in line)
    print(f"{label}: {error[error.find('qat-compile: error:') if 'qat-compile: error:' in error else error.find('error:'):]}")
assert not os.path.exists(f"{out}/deployed.mlir")
print("qat-compile wrote nothing")

# The classifier program qat-compile links: labels out of range are an
# error (they used to count as wrong predictions), and IDX data may come
# from a pipe.
exe = f"{out}/classifier"
subprocess.run([compile_tool, f"{out}/ck.mlir", "--keep-float", "--function=forward_eval",
                "--emit=exe", "-o", exe], check=True)
bad = f"{out}/labels"
done = subprocess.run([exe, f"{bad}/train-images-idx3-ubyte", f"{bad}/train-labels-idx1-ubyte"],
                      capture_output=True, text=True)
assert done.returncode == 1, done
print(f"classifier, labels out of range: {done.stderr.strip()}")
done = subprocess.run(["bash", "-c", f"cat {good}/train-images-idx3-ubyte | {exe} /dev/stdin "
                       f"{good}/train-labels-idx1-ubyte"], capture_output=True, text=True)
assert done.returncode == 0, done.stderr
print(f"classifier, images from a pipe: {done.stdout.strip()}")
with open(f"{good}/train-images-idx3-ubyte", "rb") as raw:
    gzip.open(f"{out}/images.gz", "wb").write(raw.read())
done = subprocess.run(["bash", "-c", f"cat {out}/images.gz | {exe} /dev/stdin"],
                      capture_output=True, text=True)
assert done.returncode == 1, done
print(f"classifier, gzip from a pipe: {done.stderr.strip()}")
