# The same trained QAT model deployed by PyTorch 1.13: our trained small CNN
# (qat-train, per-tensor qnnpack qconfig, target-exact) loaded into
# PyTorch's eager QAT model of the same structure, converted with
# torch.ao.quantization.convert and run on the qnnpack and onednn engines,
# against our int8 program on the 10,000 test images. Reported: accuracies,
# how many predictions differ, and how many output codes differ and by how
# many steps. PyTorch's converted model is not bit-exact with its own QAT
# forward (float summation, different requantization rounding), so a few
# codes differ; ours agrees with training exactly (qat-compile-end-to-end).
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: ours (int8, host target {{x86_64-[a-z0-9]+}}): accuracy [[ACC:[0-9.]+]]%, equal to the trained model's [[ACC]]%
# CHECK: PyTorch qnnpack: accuracy {{[0-9.]+}}%, predictions differing from ours: {{[0-9]+}} of 10000, output codes equal: {{[0-9.]+}}%, max difference {{[0-9]+}} steps; from PyTorch's own QAT forward: {{[0-9]+}} predictions differ
# CHECK: PyTorch onednn: accuracy {{[0-9.]+}}%, predictions differing from ours: {{[0-9]+}} of 10000, output codes equal: {{[0-9.]+}}%, max difference {{[0-9]+}} steps; from PyTorch's own QAT forward: {{[0-9]+}} predictions differ

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import torch

from qat_mlir import datasets, models
from qat_mlir.tools import find_tool

warnings.filterwarnings("ignore")
out = sys.argv[1]
data = datasets.FASHION_MNIST_DIR
FUSE = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]]


def run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr}")
    return done.stdout


torch.manual_seed(0)
torch.jit.trace(models.SmallCNN().train(), torch.zeros(1, 1, 28, 28)).save(f"{out}/small.pt")
log = run([find_tool("qat-train"), f"{out}/small.pt", "--qconfig", "per-tensor",
           "--target-exact", "--fp-warmup-epochs", "1", "--epochs", "1", "--grad-boost",
           "--train-limit", "3000", "--batch-size", "50", "-o", f"{out}/trained.mlir"])
trained_accuracy = re.findall(r"test accuracy ([0-9.]+)%", log)[-1]

run([find_tool("qat-compile"), f"{out}/trained.mlir", "--emit=exe", "-o", f"{out}/model"])
summary = run([f"{out}/model", f"{data}/t10k-images-idx3-ubyte.gz",
               f"{data}/t10k-labels-idx1-ubyte.gz", "--logits", f"{out}/logits"])
ours = np.fromfile(f"{out}/logits", dtype=np.float32).reshape(-1, 10)
accuracy = re.search(r"accuracy ([0-9.]+)%", summary).group(1)
target = re.search(r"model \S+ \((\S+)\)", summary).group(1)
print(f"ours (int8, host target {target}): accuracy {accuracy}%, equal to the trained model's {trained_accuracy}%")

# Our output codes, from the logits and the output quantization.
header = run([find_tool("qat-compile"), f"{out}/trained.mlir", "--emit=header", "-o", f"{out}/model.h"])
text = open(f"{out}/model.h").read()
out_scale = float(re.search(r"MODEL_OUTPUT_SCALE ([0-9.e+-]+)f", text).group(1))
out_zero = int(re.search(r"MODEL_OUTPUT_ZERO_POINT (-?[0-9]+)", text).group(1))
our_codes = np.rint(ours / np.float32(out_scale)).astype(np.int64) + out_zero

# PyTorch's QAT model of the same structure, with our trained state.
run([find_tool("qat-export"), f"{out}/trained.mlir", "-o", f"{out}/trained.pt"])
state = torch.load(f"{out}/trained.pt")
images, labels = datasets.fashion_mnist("test", data)
x = torch.from_numpy(datasets.normalize(images).reshape(-1, 1, 28, 28))
for engine in ("qnnpack", "onednn"):
    torch.backends.quantized.engine = engine
    wrapped, converted = models.converted_qat_model(state, FUSE)
    with torch.no_grad():
        fake_quant = wrapped(x).numpy()
    with torch.no_grad():
        quantized = converted[1](converted[0](x))  # int8 logits (before DeQuantStub)
    codes = quantized.int_repr().numpy().astype(np.int64)
    theirs = (codes - quantized.q_zero_point()) * quantized.q_scale()
    predictions = theirs.argmax(1)
    their_accuracy = 100.0 * (predictions == labels).mean()
    differ = int((predictions != ours.argmax(1)).sum())
    same_codes = 100.0 * (codes == our_codes).mean()
    max_diff = int(np.abs(codes - our_codes).max())
    own = int((predictions != fake_quant.argmax(1)).sum())
    print(f"PyTorch {engine}: accuracy {their_accuracy:.2f}%, predictions differing from ours: "
          f"{differ} of 10000, output codes equal: {same_codes:.2f}%, max difference {max_diff} steps; "
          f"from PyTorch's own QAT forward: {own} predictions differ")
