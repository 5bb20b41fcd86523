# qat-train end to end on a slice of Fashion-MNIST: the small CNN (traced
# .pt, imported by qat-train itself) trains from random initialization for
# two epochs; its test accuracy rises well above chance; PyTorch, loading the
# exported state_dict, gets the same test accuracy; a run stopped after one
# epoch and resumed from its saved module ends with bit-identical state;
# one thread gives the bits of two; bad inputs fail with a clear message
# and write nothing.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: compiled the training step
# CHECK: epoch 1/2: train loss {{[0-9.]+}}, train accuracy {{[0-9.]+}}%, test accuracy {{[0-9.]+}}%, {{[0-9]+}} images/s
# CHECK: epoch 2/2: train loss
# CHECK: log: 2 epochs; loss falls; test accuracy {{[0-9.]+}}% > 60%
# CHECK: saved module: trained_epochs = 2, momentum for 8 parameters, no training functions
# CHECK: PyTorch on the exported state: same test accuracy
# CHECK: resumed after epoch 1: all 22 state tensors bit-identical to the uninterrupted run
# CHECK: already trained: nothing to do
# CHECK: grad boost: same seed, bit-identical weights; noise and variant change them; 8 noisy steps counted
# CHECK: threads: 1 thread gives the bits of 2
# CHECK: missing data: {{.*}}small.pt:0:0: error: {{.*}}/nowhere/train-images-idx3-ubyte: cannot open the file
# CHECK: no evaluation forward: {{.*}}eval-only.mlir:1:1: error: the module has no @forward_eval to evaluate with: import the model with qat-import --mode train
# CHECK: bad option: qat-train: error: --epochs and --batch-size must be at least 1
# CHECK: no output file after any error

import csv
import os
import re
import subprocess
import sys

import torch

import qat_mlir
from qat_mlir import datasets, models

out = sys.argv[1]
torch.manual_seed(0)
model = models.SmallCNN().train()
torch.jit.trace(model, torch.randn(32, 1, 28, 28), check_trace=False).save(f"{out}/small.pt")
train = qat_mlir.find_tool("qat-train")
common = ["--batch-size", "32", "--train-limit", "1024", "--test-limit", "500",
          "--lr", "0.02", "--seed", "3", "--no-progress"]


def run(*args, check=True):
    done = subprocess.run([train, *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(done.stderr)
    return done


full = run(f"{out}/small.pt", *common, "--epochs", "2", "-o", f"{out}/full.mlir",
           "--log", f"{out}/full.csv")
print(full.stdout, end="")

rows = list(csv.DictReader(open(f"{out}/full.csv")))
assert len(rows) == 2
assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
accuracy = float(rows[1]["test_accuracy"])
assert accuracy > 60, accuracy
print(f"log: 2 epochs; loss falls; test accuracy {accuracy:.1f}% > 60%")

text = open(f"{out}/full.mlir").read()
epochs = re.search(r"qat.trained_epochs = (\d+)", text).group(1)
momentum = len(re.findall(r"ml_program.global private mutable @sgd.momentum\.", text))
assert "@train_step" not in text and "@loss_and_gradients" not in text
print(f"saved module: trained_epochs = {epochs}, momentum for {momentum} parameters, "
      "no training functions")

# PyTorch evaluates the exported weights and running statistics.
subprocess.run([qat_mlir.find_tool("qat-export"), f"{out}/full.mlir", "-o", f"{out}/state.pt"],
               check=True)
exported = torch.load(f"{out}/state.pt")
reference = models.SmallCNN()
reference.load_state_dict({k: v for k, v in exported.items() if k in reference.state_dict()})
images, labels = datasets.fashion_mnist("test")
with torch.no_grad():
    logits = reference.eval()(torch.from_numpy(datasets.normalize(images[:500])[:, None]))
torch_accuracy = 100.0 * (logits.argmax(1).numpy() == labels[:500]).mean()
assert abs(torch_accuracy - accuracy) <= 0.2 + 1e-9, (torch_accuracy, accuracy)
print("PyTorch on the exported state: same test accuracy")

# Stop after one epoch, resume from the saved module.
run(f"{out}/small.pt", *common, "--epochs", "1", "-o", f"{out}/half.mlir")
run(f"{out}/half.mlir", *common, "--epochs", "2", "-o", f"{out}/resumed.mlir")


def globals_of(path):
    return dict(re.findall(r"ml_program.global private (?:mutable )?@(\S+)\((.*)\) :",
                           open(path).read()))


resumed, uninterrupted = globals_of(f"{out}/resumed.mlir"), globals_of(f"{out}/full.mlir")
assert resumed == uninterrupted
print(f"resumed after epoch 1: all {len(resumed)} state tensors bit-identical to the "
      "uninterrupted run")
print("already trained: " + run(f"{out}/full.mlir", *common, "--epochs", "2").stdout
      .split(": ", 1)[1].strip())

# GradBoost: the same seed gives the same weights bit for bit; the noise
# changes them.
tiny = ["--batch-size", "32", "--train-limit", "256", "--test-limit", "64", "--no-progress",
        "--epochs", "1", "--lr", "0.02"]
for name, extra in (("boost1", ["--grad-boost", "--seed", "5"]),
                    ("boost2", ["--grad-boost", "--seed", "5"]),
                    ("plain", ["--seed", "5"]),
                    ("boost-corrected", ["--grad-boost", "--grad-boost-variant", "corrected",
                                         "--seed", "5"])):
    run(f"{out}/small.pt", *tiny, *extra, "-o", f"{out}/{name}.mlir")
boost1, boost2 = globals_of(f"{out}/boost1.mlir"), globals_of(f"{out}/boost2.mlir")
plain = globals_of(f"{out}/plain.mlir")
corrected = globals_of(f"{out}/boost-corrected.mlir")
assert boost1 == boost2
assert boost1["conv1.weight"] != plain["conv1.weight"]
assert boost1["conv1.weight"] != corrected["conv1.weight"]
assert "grad_boost.max.fc.weight" in boost1 and boost1["grad_boost.qat_steps"] == "dense<8> : tensor<i64>"
print("grad boost: same seed, bit-identical weights; noise and variant change them; "
      "8 noisy steps counted")

# Threads: each large op is split over OpenMP threads with whole reductions
# per element, so one thread gives the same bits as two (the default).
run(f"{out}/small.pt", *tiny, "--seed", "5", "--num-threads", "1", "-o", f"{out}/one-thread.mlir")
assert globals_of(f"{out}/one-thread.mlir") == plain
print("threads: 1 thread gives the bits of 2")

# Errors.
failures = {
    "missing data": [f"{out}/small.pt", "--data", f"{out}/nowhere", "-o", f"{out}/bad.mlir"],
    "no evaluation forward": [f"{out}/eval-only.mlir", "-o", f"{out}/bad.mlir"],
    "bad option": [f"{out}/small.pt", "--epochs", "0", "-o", f"{out}/bad.mlir"],
}
qat_mlir.import_torchscript(f"{out}/small.pt", f"{out}/eval-only.mlir", [(32, 1, 28, 28)])
for what, args in failures.items():
    done = run(*args, check=False)
    assert done.returncode == 1, (what, done.returncode)
    print(f"{what}: " + done.stderr.strip().splitlines()[0])
assert not os.path.exists(f"{out}/bad.mlir")
print("no output file after any error")
