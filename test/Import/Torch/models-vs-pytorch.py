# Every supported TorchScript op and variant, and whole models, imported with
# qat-import, compiled by qat-lower-to-llvm and run through the JIT: the
# outputs match LibTorch's forward on random inputs. Errors are measured as
# max |ours - torch| (absolute) and that divided by max |torch| (relative);
# both must stay within 1e-4.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: conv2d 3x3 padded: ok
# CHECK: conv2d depthwise: ok
# CHECK: max_pool2d ceil_mode: ok
# CHECK: chunk uneven: ok
# CHECK: slice with steps and open bounds: ok
# CHECK: leaky_relu: ok
# CHECK: interpolate nearest to size (x3, x2): ok
# CHECK: channel shuffle (floor_divide of a size): ok
# CHECK: small CNN (traced): ok
# CHECK: small CNN (scripted, x.size(0)): ok
# CHECK: ResNet basic block: ok
# CHECK: MobileNetV2 inverted residual: ok
# CHECK: MobileNetV2 width 1.0, 224x224: ok
# CHECK: all {{[0-9]+}} models match PyTorch; worst absolute error {{.*}}, worst relative error {{.*}}

import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from qat_mlir import models  # noqa: E402

import qat_mlir  # noqa: E402

TOLERANCE = 1e-4
out_dir = sys.argv[1]
torch.manual_seed(0)


class Lambda(nn.Module):
    """Wraps a function (and optional submodules) into a traceable module."""

    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for name, module in modules.items():
            setattr(self, name, module)

    def forward(self, *xs):
        return self.fn(self, *xs)


worst = [0.0, 0.0]
count = 0


def check(name, model, *shapes, script=False):
    global count
    model = models.randomize_batch_norm(model).eval()
    inputs = [torch.randn(shape) for shape in shapes]
    with torch.no_grad():
        expected = model(*inputs)
        archive = torch.jit.script(model) if script else torch.jit.trace(model, tuple(inputs), check_trace=False)
    stem = os.path.join(out_dir, "".join(c if c.isalnum() else "_" for c in name))
    archive.save(stem + ".pt")
    qat_mlir.import_torchscript(stem + ".pt", stem + ".mlir", shapes)
    (actual,) = qat_mlir.run_file(stem + ".mlir", "predict", [i.numpy() for i in inputs])
    expected = expected.numpy()
    assert actual.shape == expected.shape, (name, actual.shape, expected.shape)
    absolute = float(np.abs(actual - expected).max())
    relative = absolute / max(float(np.abs(expected).max()), 1e-30)
    if absolute > TOLERANCE or relative > TOLERANCE:
        raise AssertionError(f"{name}: absolute error {absolute:.2e}, relative {relative:.2e}")
    worst[0], worst[1] = max(worst[0], absolute), max(worst[1], relative)
    count += 1
    print(f"{name}: ok (abs {absolute:.1e}, rel {relative:.1e})", flush=True)


# Convolutions: every variant of stride, padding, dilation and groups.
check("conv2d 3x3 padded", nn.Conv2d(3, 8, 3, padding=1), (2, 3, 9, 9))
check("conv2d strided", nn.Conv2d(3, 8, 3, stride=2), (2, 3, 9, 10))
check("conv2d padded 2 no bias", nn.Conv2d(3, 4, 5, padding=2, bias=False), (1, 3, 8, 8))
check("conv2d dilated", nn.Conv2d(4, 6, 3, dilation=2, padding=2), (1, 4, 11, 9))
check("conv2d grouped", nn.Conv2d(4, 6, 3, groups=2, padding=1), (1, 4, 7, 7))
check("conv2d depthwise", nn.Conv2d(6, 6, 3, groups=6, stride=2, padding=1), (2, 6, 8, 8))
check("conv2d depthwise multiplier 2", nn.Conv2d(3, 6, 3, groups=3), (1, 3, 6, 6))
check("conv2d 1x1 rectangular stride", nn.Conv2d(5, 7, (1, 3), stride=(2, 1)), (1, 5, 6, 6))
check("conv2d padding='same'",
      Lambda(lambda m, x: F.conv2d(x, m.c.weight, m.c.bias, 1, "same", 2), c=nn.Conv2d(2, 3, 3)),
      (1, 2, 7, 6))
check("conv2d padding='valid'",
      Lambda(lambda m, x: F.conv2d(x, m.c.weight, None, 1, "valid"), c=nn.Conv2d(2, 3, 3)),
      (1, 2, 5, 5))

# Matrix products.
check("linear", nn.Linear(12, 5), (4, 12))
check("linear no bias, 3-d input", nn.Linear(6, 3, bias=False), (2, 4, 6))
check("addmm alpha beta",
      Lambda(lambda m, a, b: torch.addmm(m.l.bias, a, b, beta=0.5, alpha=2.0), l=nn.Linear(1, 7)),
      (3, 4), (4, 7))
check("matmul", Lambda(lambda m, a, b: torch.matmul(a, b)), (5, 3), (3, 2))
check("mm", Lambda(lambda m, a, b: torch.mm(a, b)), (2, 6), (6, 4))

# Batch norm in evaluation mode.
check("batch_norm 2d", nn.BatchNorm2d(5), (3, 5, 4, 4))
check("batch_norm 1d", nn.BatchNorm1d(7), (6, 7))

# Activations.
for activation, module in [("relu", nn.ReLU()), ("relu6", nn.ReLU6()),
                           ("hardtanh", nn.Hardtanh(-2.0, 3.0)), ("hardswish", nn.Hardswish()),
                           ("hardsigmoid", nn.Hardsigmoid()), ("sigmoid", nn.Sigmoid()),
                           ("tanh", nn.Tanh())]:
    check(activation, Lambda(lambda m, x: m.a(x * 4.0), a=module), (2, 3, 5))
check("exp and log", Lambda(lambda m, x: torch.log(torch.exp(x) + 1.0)), (2, 3, 5))
check("relu in place", nn.Sequential(nn.Conv2d(2, 2, 1), nn.ReLU(inplace=True)), (1, 2, 3, 3))

# Pooling.
check("max_pool2d 3x3 stride 2 pad 1", nn.MaxPool2d(3, 2, 1), (2, 3, 9, 9))
check("max_pool2d ceil_mode", nn.MaxPool2d(2, 2, ceil_mode=True), (1, 2, 7, 7))
check("avg_pool2d", nn.AvgPool2d(2), (2, 3, 8, 6))
check("avg_pool2d padded (count_include_pad)", nn.AvgPool2d(3, 2, 1), (1, 3, 7, 7))
check("avg_pool2d divisor_override", nn.AvgPool2d(2, divisor_override=3), (1, 2, 4, 4))
check("adaptive_avg_pool2d 1x1", nn.AdaptiveAvgPool2d(1), (2, 4, 7, 7))
check("adaptive_avg_pool2d 2x2", nn.AdaptiveAvgPool2d((2, 2)), (1, 3, 6, 4))

# Arithmetic with tensors, scalars and alpha.
check("add alpha", Lambda(lambda m, x, y: torch.add(x, y, alpha=2)), (2, 3, 4), (2, 3, 4))
check("add broadcast channel", Lambda(lambda m, x, y: x + y), (2, 3, 4, 4), (3, 1, 1))
check("sub scalar and tensor", Lambda(lambda m, x, y: (x - 0.5) - y), (2, 5), (2, 5))
check("mul tensor and scalar", Lambda(lambda m, x, y: x * y * 3.0), (4, 3), (4, 3))
check("div", Lambda(lambda m, x: x / 4.0), (3, 3))

# Shapes.
check("flatten", Lambda(lambda m, x: torch.flatten(x, 1)), (2, 3, 4, 5))
check("flatten middle", Lambda(lambda m, x: torch.flatten(x, 1, 2)), (2, 3, 4, 5))
check("view", Lambda(lambda m, x: x.view(-1, 10)), (2, 5, 4))
check("reshape", Lambda(lambda m, x: x.reshape(4, 2, 5)), (2, 20))
check("contiguous permute", Lambda(lambda m, x: x.permute(0, 2, 3, 1).contiguous()), (2, 3, 4, 5))
check("transpose", Lambda(lambda m, x: x.transpose(1, 2)), (2, 3, 4))
check("cat", Lambda(lambda m, x, y: torch.cat([x, y, x], 1)), (2, 3, 4), (2, 2, 4))
check("chunk uneven", Lambda(lambda m, x: torch.cat(list(reversed(x.chunk(3, 1))), 1)),
      (2, 7, 3))
check("split sizes", Lambda(lambda m, x: torch.cat(x.split([2, 5], dim=1)[::-1], 1) * 2.0),
      (2, 7, 3))
check("split size, last dim", Lambda(lambda m, x: x.split(2, dim=-1)[2] + 1.0), (2, 3, 5))
check("slice with steps and open bounds", Lambda(lambda m, x: x[:, 1:6:2, -3:] * 1.0), (2, 7, 5))
check("narrow", Lambda(lambda m, x: x.narrow(2, 1, 3) + 0.5), (2, 3, 6))
check("select", Lambda(lambda m, x: x[:, 2] + x.select(1, -1)), (2, 4, 5))
check("silu", nn.SiLU(), (2, 3, 5))
check("clamp, clamp_min, clamp_max",
      Lambda(lambda m, x: torch.clamp(x, -0.5, 0.7) + x.clamp_min(0.2) * x.clamp_max(-0.1)
             + torch.clamp(x, max=0.3) - torch.clamp(x, min=-0.4)), (2, 3, 5))
check("leaky_relu", nn.LeakyReLU(0.1), (2, 3, 5))
check("upsample_nearest2d x2", nn.Upsample(scale_factor=2, mode="nearest"), (2, 3, 4, 5))
check("interpolate nearest to size (x3, x2)", Lambda(lambda m, x: F.interpolate(x, size=(9, 8))),
      (1, 2, 3, 4))
check("channel shuffle (floor_divide of a size)",
      Lambda(lambda m, x: x.view(x.size(0), 2, x.size(1) // 2, 3, 3).transpose(1, 2)
             .contiguous().view(x.size(0), -1, 3, 3) * 1.0), (2, 6, 3, 3))
check("mean keepdim", Lambda(lambda m, x: x.mean((2, 3), keepdim=True)), (2, 3, 4, 5))
check("mean last dim", Lambda(lambda m, x: x.mean(-1)), (2, 3, 4))
check("dropout (eval)", nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), (3, 4))
check("softmax", nn.Softmax(dim=1), (4, 10))
check("log_softmax", nn.LogSoftmax(dim=-1), (2, 3, 6))

# Fake quantization written directly (not through FakeQuantize modules),
# with Python numbers and with per-channel parameter buffers.
check("fake_quantize_per_tensor_affine",
      Lambda(lambda m, x: torch.fake_quantize_per_tensor_affine(x, 0.1, 3, 0, 255)),
      (2, 3, 4))


class PerChannelFakeQuant(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.tensor([0.05, 0.1, 0.2]))
        self.register_buffer("zero_point", torch.tensor([0, -4, 9], dtype=torch.int32))

    def forward(self, x):
        return torch.fake_quantize_per_channel_affine(x, self.scale, self.zero_point, 1,
                                                      -128, 127)


check("fake_quantize_per_channel_affine", PerChannelFakeQuant(), (2, 3, 5))

# Whole models.
check("small CNN (traced)", models.SmallCNN(), (4, 1, 28, 28))
check("small CNN (scripted, x.size(0))", models.ScriptedCNN(), (2, 3, 8, 8), script=True)
check("ResNet basic block", models.BasicBlock(), (2, 16, 14, 14))
check("MobileNetV2 inverted residual", models.InvertedResidual(16, 16, 1, 6), (2, 16, 10, 10))
check("MobileNetV2 width 1.0, 224x224", models.MobileNetV2(), (1, 3, 224, 224))

print(f"all {count} models match PyTorch; worst absolute error {worst[0]:.1e}, "
      f"worst relative error {worst[1]:.1e}")
