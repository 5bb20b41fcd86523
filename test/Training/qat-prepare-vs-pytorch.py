# --qat-prepare on an imported fp32 model against PyTorch's eager QAT
# preparation (fuse_modules_qat + prepare_qat) of the same model:
# - the prepared module and PyTorch's prepared module imported by qat-import
#   compute the same bits: logits and every state update (observer ranges,
#   scales, zero-points, batch-norm statistics), over two training-mode
#   steps (empty observers, then the moving average);
# - the logits agree with PyTorch's eager forward within one output
#   quantization step (float summation order may move a value across a
#   rounding boundary: the importer's own prepared-QAT test states it);
# for Conv+BN+ReLU with max pooling (per-tensor weights, the paper's
# qnnpack setting, and per-channel weights), a depthwise Conv+BN+ReLU,
# Conv+bias+ReLU without batch norm, int8 activations, and uint7 ones
# (PyTorch's reduce_range: qat-train --qconfig-activations=uint7).
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: fusable_small_cnn per-tensor uint8: 2 steps; logits and 34 state updates bit-identical to PyTorch's prepared model
# CHECK: fusable_small_cnn per-channel uint8: 2 steps; logits and 34 state updates bit-identical to PyTorch's prepared model
# CHECK: conv_bn_relu_net per-tensor int8: 2 steps; logits and 31 state updates bit-identical to PyTorch's prepared model
# CHECK: depthwise_net per-channel uint8: 2 steps; logits and 34 state updates bit-identical to PyTorch's prepared model
# CHECK: fusable_small_cnn per-tensor uint7: 2 steps; logits and 34 state updates bit-identical to PyTorch's prepared model
# CHECK: eager PyTorch: logits within one output step in every case

import re
import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.ao.quantization as tq
from torch import nn

import qat_mlir
from qat_mlir import models
from qat_mlir.testing import assert_bitwise_equal

warnings.filterwarnings("ignore")
out = sys.argv[1]
opt = qat_mlir.find_tool("qat-opt")


def qconfig(weights, activations):
    fq = tq.FusedMovingAvgObsFakeQuantize
    # uint7: PyTorch's reduce_range (fbgemm's activations), codes in [0, 127].
    act = {"uint8": fq.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0,
                                 quant_max=255, dtype=torch.quint8),
           "uint7": fq.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0,
                                 quant_max=127, dtype=torch.quint8),
           "int8": fq.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=-128,
                                quant_max=127, dtype=torch.qint8)}[activations]
    wt = tq.default_fused_wt_fake_quant if weights == "per-tensor" else \
        tq.default_fused_per_channel_wt_fake_quant
    return tq.QConfig(activation=act, weight=wt)


def forward_signature(path):
    text = open(path).read()
    match = re.search(r"func\.func @forward\((.*)\) -> \((.*)\) \{", text)
    return (re.findall(r'qat\.state = "([^"]+)"', match.group(1)),
            re.findall(r'qat\.state = "([^"]+)"', match.group(2)))


def step(path, state, x):
    args, results = forward_signature(path)
    values = qat_mlir.run_file(path, "forward", [state[n] for n in args] + [x])
    return values[0], dict(zip(results, values[1:]))


def check(name, make, fuse, weights, activations, shape):
    torch.manual_seed(0)
    fp32 = models.randomize_batch_norm(make()).train()
    # PyTorch's preparation of a copy with the same weights.
    reference = make()
    reference.load_state_dict(fp32.state_dict())
    reference.train()
    tq.fuse_modules_qat(reference, fuse, inplace=True)
    reference = torch.nn.Sequential(tq.QuantStub(), reference, tq.DeQuantStub())
    reference.qconfig = qconfig(weights, activations)
    tq.prepare_qat(reference, inplace=True)

    x = torch.randn(*shape)
    torch.jit.trace(fp32, x, check_trace=False).save(f"{out}/{name}.pt")
    qat_mlir.import_torchscript(f"{out}/{name}.pt", f"{out}/{name}.mlir", [x.shape], mode="train")
    ours = f"{out}/{name}-{weights}-{activations}.mlir"
    subprocess.run([opt, f"--qat-prepare=weights={weights} activations={activations}",
                    f"{out}/{name}.mlir", "-o", ours], check=True)
    torch.jit.trace(reference, x, check_trace=False).save(f"{out}/{name}-torch.pt")
    theirs = f"{out}/{name}-torch.mlir"
    qat_mlir.import_torchscript(f"{out}/{name}-torch.pt", theirs, [x.shape], mode="train")

    # Initial state: PyTorch's, by name. Its per-channel observers start
    # empty (shape [0], which no importer can size), so that case starts
    # after one PyTorch step; per tensor they start at +inf/-inf.
    if weights == "per-channel":
        with torch.no_grad():
            reference(torch.randn(*shape))
    initial = {k: v.numpy() for k, v in reference.state_dict().items()}
    state_theirs = dict(initial)
    state_ours = {}
    for n in forward_signature(ours)[0]:
        value = initial[models.pytorch_qat_name(n, fuse)]
        per_channel = weights == "per-channel" and ".weight_fake_quant." in n
        quant_state = n.endswith(("min_val", "max_val", "scale", "zero_point"))
        state_ours[n] = value.reshape(()) if quant_state and not per_channel else value
    for step_index in range(2):
        x = torch.randn(*shape)
        logits_ours, updates_ours = step(ours, state_ours, x.numpy())
        logits_theirs, updates_theirs = step(theirs, state_theirs, x.numpy())
        assert_bitwise_equal(logits_ours, logits_theirs, f"{name} logits, step {step_index}")
        for n, value in updates_ours.items():
            assert_bitwise_equal(value.reshape(-1), updates_theirs[models.pytorch_qat_name(n, fuse)].reshape(-1),
                                 f"{name} {n}, step {step_index}")
        with torch.no_grad():
            eager_logits = reference(x).numpy()
        output_step = float(updates_ours["fc.activation_post_process.scale"])
        assert np.abs(eager_logits - logits_ours).max() <= output_step * 1.0001, \
            (name, np.abs(eager_logits - logits_ours).max(), output_step)
        state_ours.update(updates_ours)
        state_theirs.update(updates_theirs)
    print(f"{name} {weights} {activations}: 2 steps; logits and {len(updates_ours)} state "
          f"updates bit-identical to PyTorch's prepared model")


class DepthwiseNet(nn.Module):
    """Conv+BN+ReLU, then a depthwise (grouped) Conv+BN+ReLU."""

    FUSE = [["conv1", "bn1", "relu1"], ["dw", "bn2", "relu2"]]

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(8 * 14 * 14, 10)

    def forward(self, x):
        x = self.relu2(self.bn2(self.dw(self.relu1(self.bn1(self.conv1(x))))))
        return self.fc(torch.flatten(x, 1))


SMALL_FUSE = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]]
check("fusable_small_cnn", models.FusableSmallCNN, SMALL_FUSE, "per-tensor", "uint8", (8, 1, 28, 28))
check("fusable_small_cnn", models.FusableSmallCNN, SMALL_FUSE, "per-channel", "uint8",
      (8, 1, 28, 28))
check("conv_bn_relu_net", models.ConvBnReluNet, models.ConvBnReluNet.FUSE, "per-tensor", "int8",
      (8, 1, 28, 28))
check("depthwise_net", DepthwiseNet, DepthwiseNet.FUSE, "per-channel", "uint8", (8, 1, 28, 28))
check("fusable_small_cnn", models.FusableSmallCNN, SMALL_FUSE, "per-tensor", "uint7", (8, 1, 28, 28))
print("eager PyTorch: logits within one output step in every case")
