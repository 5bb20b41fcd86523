# --qat-fold-batchnorm on imported models:
# - fp32 models in evaluation mode (Conv+BN+ReLU, a strided Conv with bias
#   + BN, a depthwise Conv+BN, Linear+BatchNorm1d): after folding no
#   qat.batch_norm is left and the outputs equal PyTorch's eval forward
#   within 1e-5 (relative to the largest logit);
# - a model prepared for QAT (--qat-prepare: PyTorch's ConvBn QAT form),
#   evaluation forward after one training step: the folded graph (weight
#   kept, division and batch norm turned into the bias, as PyTorch's
#   convert does) gives the same fake-quantized logits as the unfolded one,
#   bit for bit except where the different float rounding moves a value
#   across a rounding boundary (at most one output step).
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: fp32 eval: 4 batch norms folded, none left; max error {{.*}} <= 1e-5
# CHECK: QAT eval: 2 batch norms folded, none left; {{[0-9]+}}/80 logits bit-identical, max difference {{.*}} <= one output step

import re
import subprocess
import sys
import warnings

import numpy as np
import torch
from torch import nn

import qat_mlir
from qat_mlir import models

warnings.filterwarnings("ignore")
out = sys.argv[1]
opt = qat_mlir.find_tool("qat-opt")


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 7 * 7, 32)
        self.bn4 = nn.BatchNorm1d(32)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.nn.functional.relu6(self.bn3(self.dw(x)))
        x = torch.nn.functional.avg_pool2d(x, 2)
        return self.head(torch.relu(self.bn4(self.fc(torch.flatten(x, 1)))))


def signature(path, function):
    text = open(path).read()
    match = re.search(rf"func\.func @{function}\((.*?)\) -> (.*?) \{{\n", text)
    return (re.findall(r'qat\.state = "([^"]+)"', match.group(1)),
            re.findall(r'qat\.state = "([^"]+)"', match.group(2)))


def call(path, function, state, x):
    args, results = signature(path, function)
    values = qat_mlir.run_file(path, function, [state[n] for n in args] + [x])
    return values[0], dict(zip(results, values[1:]))


def fold(source, target):
    subprocess.run([opt, "--qat-fold-batchnorm", source, "-o", target], check=True)
    before = open(source).read().count("qat.batch_norm")
    after = open(target).read().count("qat.batch_norm")
    return before, after


# fp32, evaluation mode.
torch.manual_seed(0)
model = models.randomize_batch_norm(Mixed()).eval()
x = torch.randn(4, 1, 28, 28)
torch.jit.trace(model, x).save(f"{out}/mixed.pt")
qat_mlir.import_torchscript(f"{out}/mixed.pt", f"{out}/mixed.mlir", [x.shape])
before, after = fold(f"{out}/mixed.mlir", f"{out}/mixed-folded.mlir")
assert before == 4 and after == 0, (before, after)
state = {k: v.numpy() for k, v in model.state_dict().items()}
ours, _ = call(f"{out}/mixed-folded.mlir", "forward", state, x.numpy())
with torch.no_grad():
    expected = model(x).numpy()
error = np.abs(ours - expected).max() / np.abs(expected).max()
assert error <= 1e-5, error
print(f"fp32 eval: {before} batch norms folded, none left; max error {error:.2e} <= 1e-5")

# QAT: prepared here, one training step to set the observers, then the
# evaluation forward folded and unfolded.
torch.manual_seed(1)
model = models.randomize_batch_norm(models.FusableSmallCNN()).train()
x = torch.randn(8, 1, 28, 28)
torch.jit.trace(model, x, check_trace=False).save(f"{out}/small.pt")
qat_mlir.import_torchscript(f"{out}/small.pt", f"{out}/small.mlir", [x.shape], mode="train")
subprocess.run([opt, "--qat-prepare", f"{out}/small.mlir", "-o", f"{out}/prepared.mlir"],
               check=True)
subprocess.run([qat_mlir.find_tool("qat-export"), f"{out}/prepared.mlir", "-o",
                f"{out}/state.pt"], check=True)
state = {k: v.numpy() for k, v in torch.load(f"{out}/state.pt").items()}
_, updates = call(f"{out}/prepared.mlir", "forward", state, x.numpy())
state.update(updates)
before, after = fold(f"{out}/prepared.mlir", f"{out}/prepared-folded.mlir")
# The training forward keeps its batch norms (batch statistics).
folded_eval = open(f"{out}/prepared-folded.mlir").read().split("func.func @forward_eval")[1]
assert "qat.batch_norm" not in folded_eval and before - after == 2, (before, after)
x = torch.randn(8, 1, 28, 28).numpy()
reference, _ = call(f"{out}/prepared.mlir", "forward_eval", state, x)
ours, _ = call(f"{out}/prepared-folded.mlir", "forward_eval", state, x)
step = float(state["fc.activation_post_process.scale"])
difference = np.abs(ours - reference)
same = int((difference == 0).sum())
assert difference.max() <= step * 1.0001 and same >= 0.8 * ours.size, (difference.max(), step)
print(f"QAT eval: {before - after} batch norms folded, none left; {same}/{ours.size} logits "
      f"bit-identical, max difference {difference.max():.3g} <= one output step")
