# The torchvision zoo through qat-mlir, at test size (1x3x64x64 float,
# 4x3x64x64 int8; the models are shape-generic):
#
# 1. fp32: each float model (batch norms randomized) imports and its
#    compiled forward matches LibTorch within 1e-4 of the output's range.
# 2. --qat-prepare makes each imported model quantization-aware.
# 3. PyTorch QAT: each model prepared by PyTorch (torchvision's
#    quantizable variant where one exists: fuse_model(is_qat=True),
#    qnnpack qconfig, prepare_qat; SqueezeNet and EfficientNet wrapped in
#    QuantStub/DeQuantStub and their Conv+BN(+ReLU) fused by hand), its
#    observers calibrated on 3 random batches and then disabled, traced in
#    evaluation mode, compiled to int8 for the host with no hand edits and
#    run on 4 random images. Its output codes (output / output scale) are
#    compared with PyTorch's fake-quant forward (the model qat-compile
#    compiles) and with PyTorch's own converted int8 model (qnnpack). The
#    networks are untrained (random weights), which amplifies every 1-step
#    rounding difference layer after layer; the test requires that ours
#    differs from the fake-quant forward in at most as many codes (plus 2%
#    of them), and by at most as many steps, as PyTorch's converted model
#    does from that same forward.
# 4. The same module compiles to an AArch64 (dot-product) object, for the
#    models with ops that the AArch64 runs of TinyMobileNet do not cover.
#
# Ops without an integer form (concatenation of different grids,
# hardswish, squeeze-and-excitation multiplies, SiLU) stay in float
# between quantized values; qat-compile's remark counts them.
#
# The matrix runs in two lit tests (this file and torchvision-zoo-2.test)
# so that lit's two workers share it.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t resnet18 mobilenet_v2 mobilenet_v3_small shufflenet_v2_x1_0 | FileCheck %s --check-prefix=A
#
# A-LABEL: resnet18
# A: fp32: matches LibTorch
# A: --qat-prepare: {{[0-9]+}} fake quantizations
# A: int8 host: ok
# A-LABEL: mobilenet_v2
# A: fp32: matches LibTorch
# A: int8 host: ok
# A-LABEL: mobilenet_v3_small
# A: fp32: matches LibTorch
# A: int8 host: ok
# A: in float: {{.*}}tosa.mul
# A: aarch64-dotprod object: ok
# A-LABEL: shufflenet_v2_x1_0
# A: fp32: matches LibTorch
# A: int8 host: ok
# A: in float: {{.*}}tosa.concat
# A: aarch64-dotprod object: ok
# A: all 4 models passed
#
# B-LABEL: squeezenet1_1
# B: fp32: matches LibTorch
# B: int8 host: ok
# B-LABEL: googlenet
# B: fp32: matches LibTorch
# B: int8 host: ok
# B: in float: {{.*}}tosa.concat
# B-LABEL: efficientnet_b0
# B: fp32: matches LibTorch
# B: int8 host: ok
# B: in float: {{.*}}tosa.sigmoid
# B-NOT: aarch64-dotprod object
# B: all 3 models passed

import copy
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.ao.quantization as tq
import torch.nn as nn
import torchvision
import torchvision.models.quantization as tvq
from torchvision.models.mobilenetv3 import _mobilenet_v3_conf

import qat_mlir
from qat_mlir import models
from qat_mlir.tools import find_tool

warnings.filterwarnings("ignore")
out = sys.argv[1]
SIZE, BATCH = 64, 4
ENGINE = "qnnpack"
# The models whose ops the AArch64 tests of TinyMobileNet do not cover
# (slices, transposes, float islands); compiling each model twice would
# double the test's time. EfficientNet's float islands (SiLU,
# squeeze-and-excitation products) are MobileNetV3's kind.
AARCH64 = ("mobilenet_v3_small", "shufflenet_v2_x1_0")
torch.backends.quantized.engine = ENGINE


def run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def float_model(name):
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    return getattr(torchvision.models, name)(weights=None, **kwargs)


class Stubbed(nn.Module):
    """A float model between a QuantStub and a DeQuantStub, as PyTorch's
    eager-mode QAT needs for models without a quantizable variant."""

    def __init__(self, model):
        super().__init__()
        self.quant, self.model, self.dequant = tq.QuantStub(), model, tq.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.model(self.quant(x)))


def fuse_by_hand(model):
    """Fuses every Conv2d with the BatchNorm2d (and ReLU) that follow it
    in the same container."""
    groups = []
    for parent_name, parent in model.named_modules():
        children = list(parent.named_children())
        for i, (name, child) in enumerate(children):
            if not isinstance(child, nn.Conv2d) or i + 1 >= len(children):
                continue
            group = [name]
            if isinstance(children[i + 1][1], nn.BatchNorm2d):
                group.append(children[i + 1][0])
                if i + 2 < len(children) and isinstance(children[i + 2][1], nn.ReLU):
                    group.append(children[i + 2][0])
            elif isinstance(children[i + 1][1], nn.ReLU):
                group.append(children[i + 1][0])
            if len(group) > 1:
                prefix = f"{parent_name}." if parent_name else ""
                groups.append([prefix + n for n in group])
    return tq.fuse_modules_qat(model, groups) if groups else model


def pytorch_prepared(name):
    if name in ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0", "googlenet"):
        kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        model = getattr(tvq, name)(weights=None, quantize=False, **kwargs)
    elif name == "mobilenet_v3_small":
        setting, last_channel = _mobilenet_v3_conf("mobilenet_v3_small")
        model = tvq.QuantizableMobileNetV3(setting, last_channel,
                                           block=tvq.mobilenetv3.QuantizableInvertedResidual)
        tvq.utils._replace_relu(model)
    else:
        model = None
    if model is not None:
        model.train()
        model.fuse_model(is_qat=True)
    else:
        model = Stubbed(fuse_by_hand(float_model(name).train()))
    model.qconfig = tq.get_default_qat_qconfig(ENGINE)
    tq.prepare_qat(model, inplace=True)
    return model


def output_scale(model, x):
    """The scale of the last fake quantization the forward runs."""
    called = []
    hooks = [m.register_forward_hook(lambda m, i, o: called.append(m))
             for m in model.modules() if isinstance(m, tq.FakeQuantize)]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return float(called[-1].scale)


def compare_fp32(name):
    torch.manual_seed(0)
    model = models.randomize_batch_norm(float_model(name)).eval()
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        expected = model(x).numpy()
        torch.jit.trace(model, x, check_trace=False).save(f"{out}/{name}.pt")
    qat_mlir.import_torchscript(f"{out}/{name}.pt", f"{out}/{name}.mlir", [(1, 3, SIZE, SIZE)])
    (actual,) = qat_mlir.run_file(f"{out}/{name}.mlir", "predict", [x.numpy()])
    error = float(np.abs(actual - expected).max()) / float(np.abs(expected).max())
    if actual.shape != expected.shape or error > 1e-4:
        sys.exit(f"{name}: fp32 differs from LibTorch by {error:.1e} of the range")
    print(f"fp32: matches LibTorch (error {error:.1e} of the output range)")
    prepared = run([find_tool("qat-opt"), f"{out}/{name}.mlir", "--qat-prepare"])
    print(f"--qat-prepare: {prepared.count('qat.fake_quant')} fake quantizations")


def compare_int8(name):
    torch.manual_seed(0)
    model = pytorch_prepared(name)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, SIZE, SIZE))
    model.eval()
    model.apply(tq.disable_observer)
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    with torch.no_grad():
        fake_quant = model(x).numpy()
        torch.jit.trace(model, x, check_trace=False).save(f"{out}/{name}-qat.pt")
        try:
            converted = tq.convert(copy.deepcopy(model)).eval()(x).numpy()
        except NotImplementedError as error:  # e.g. no quantized SiLU kernel
            converted = None
            missing = re.search(r"run '([^']+)'", str(error))
            missing = missing.group(1) if missing else "an op"
    scale = output_scale(model, x)

    stem = f"{out}/{name}-qat"
    run([find_tool("qat-import"), f"{stem}.pt", "--input-shape", f"{BATCH}x3x{SIZE}x{SIZE}",
         "-o", f"{stem}.mlir"])
    log = run([find_tool("qat-compile"), f"{stem}.mlir", "--emit=mlir", "-o", f"{stem}-int8.mlir"])
    (ours,) = qat_mlir.run_file(f"{stem}-int8.mlir", "model", [x.numpy()])
    def differences(values):
        codes, reference = np.round(values / scale), np.round(fake_quant / scale)
        return int(np.sum(codes != reference)), int(np.abs(codes - reference).max())

    ours_diff, ours_max = differences(ours)
    same_argmax = int(np.sum(ours.argmax(1) == fake_quant.argmax(1)))
    size = ours.size
    if converted is not None:
        conv_diff, conv_max = differences(converted)
        ok = ours_diff <= conv_diff + size // 50 and ours_max <= max(1, conv_max)
        peer = f"PyTorch's converted model {conv_diff} (max {conv_max})"
    else:
        # Without a converted model to compare with: a bound from the
        # models PyTorch converts (all of them within it here).
        ok = ours_diff <= size * 3 // 4 and ours_max <= 5
        peer = f"PyTorch cannot convert the model ({missing} has no quantized kernel)"
    print(f"int8 host: {'ok' if ok else 'FAILED'}: output codes differing from PyTorch's "
          f"fake-quant forward: ours {ours_diff} of {size} (max {ours_max} steps), {peer}; "
          f"top-1 equal {same_argmax} of {BATCH}")
    islands = re.search(r"remark: --qat-fold-quant: (\d+) ops? computes? in float between "
                        r"quantized values \(([^)]*)\)", log)
    print(f"in float: {islands.group(2) if islands else 'none'}")
    if not ok:
        sys.exit(1)

    if name not in AARCH64:
        return
    run([find_tool("qat-compile"), f"{stem}.mlir", "--target=aarch64-dotprod", "--emit=obj",
         "-o", f"{stem}-aarch64.o"])
    with open(f"{stem}-aarch64.o", "rb") as f:
        header = f.read(20)
    is_aarch64 = header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183
    print(f"aarch64-dotprod object: {'ok' if is_aarch64 else 'FAILED'}")


names = sys.argv[2:] or ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0",
                         "squeezenet1_1", "googlenet", "efficientnet_b0"]
for name in names:
    print(name, flush=True)
    compare_fp32(name)
    compare_int8(name)
    sys.stdout.flush()
print(f"all {len(names)} models passed")
