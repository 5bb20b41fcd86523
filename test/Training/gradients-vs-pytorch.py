# The gradients of --qat-generate-backward against LibTorch autograd on the
# same weights and batch, for models that use every gradient rule: batch
# norm in training and evaluation mode, convolutions (strided, dilated, grouped,
# depthwise), max pooling with overlapping and padded windows, average
# pooling, ReLU/ReLU6/sigmoid/tanh/SiLU, concatenation, slices (chunk,
# split, narrow, strided slice, select, channel shuffle), residual adds, products,
# log-softmax, linear layers, dropout, and fake quantization (a model
# prepared for QAT by PyTorch: straight-through estimator with the clipping
# mask; and PyTorch's QAT form of Conv+BN+ReLU, whose weights are scaled by
# the batch-norm factor through sqrt before fake quantization). Error per parameter = max |ours - torch| / max |torch|; the bound
# is 1e-4.
#
# The whole MobileNetV2 (28x28, batch 2) runs with its batch norms frozen
# (running statistics, randomized): in training mode its last blocks
# normalize 8 values per channel, which amplifies f32 rounding to ~3e-4
# in the ReLU6 inputs, more than many of them lie from a kink (0 or 6), so
# any two f32 implementations (PyTorch's included, against its own f64)
# take different branches on some batches, by chance. Batch statistics are
# covered by the other models; the whole network's depth, depthwise
# convolutions and residuals by this one, within the same 1e-4.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: small_cnn: loss matches; 8 parameter gradients within 1e-4
# CHECK: every_op: loss matches; {{[0-9]+}} parameter gradients within 1e-4
# CHECK: slicing: loss matches; 6 parameter gradients within 1e-4
# CHECK: decoder: loss matches; 6 parameter gradients within 1e-4
# CHECK: mobilenet_v2_blocks: loss matches; {{[0-9]+}} parameter gradients within 1e-4
# CHECK: mobilenet_v2_28x28: loss matches; {{[0-9]+}} parameter gradients within 1e-4
# CHECK: prepared_qat: loss matches; {{[0-9]+}} parameter gradients within 1e-4
# CHECK: conv_bn_qat: loss matches; {{[0-9]+}} parameter gradients within 1e-4
# CHECK: frozen_bn: loss matches; 8 parameter gradients within 1e-4
# CHECK: dropout: loss matches; 2 parameter gradients within 1e-4

import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.ao.quantization as tq
import torch.nn.functional as F
from torch import nn

import qat_mlir
from qat_mlir import models

warnings.filterwarnings("ignore")
out = sys.argv[1]
TOLERANCE = 1e-4


class EveryOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=2, dilation=2)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=2, bias=False)
        # No bias: a train-mode batch norm cancels it (its gradient is 0).
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(16 * 2 * 2, 6)

    def forward(self, x):
        x = F.relu6(self.conv(x) * 1.5)
        y = torch.sigmoid(self.grouped(x)) - torch.tanh(x)
        z = self.bn(self.depthwise(x)) + y
        z = F.max_pool2d(z, 3, stride=2, padding=1)
        a = F.avg_pool2d(z, 2, stride=2, padding=0)
        b = F.avg_pool2d(z, 3, stride=2, padding=1)
        x = torch.cat([a, b * a], dim=1)
        x = self.fc(torch.flatten(x, 1))
        return F.log_softmax(x, dim=1) + x.mean(dim=1, keepdim=True)


class Slicing(nn.Module):
    """ShuffleNetV2's unit (chunk, channel shuffle through floor_divide of
    a size) and the other slices: split, narrow, strided slice, select,
    SiLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.branch = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.fc = nn.Linear(3 * 3 + 3 * 8 + 8, 5)

    def forward(self, x):
        x = F.silu(self.conv(x))
        kept, passed = x.chunk(2, dim=1)
        x = torch.cat([kept, self.branch(passed)], dim=1)
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
        a, b = x.split([3, 5], dim=1)
        narrowed = a.narrow(2, 1, 4)[:, :, :, 1::3]       # 3 x 4 x 3
        row = b.select(2, 3)                               # 5 x 8
        features = [narrowed.mean(2).flatten(1), row[:, :3].flatten(1), x[:, :, -1, -1]]
        return self.fc(torch.cat(features, dim=1))


class Decoder(nn.Module):
    """A segmentation or GAN decoder's ops: LeakyReLU, nearest upsampling,
    clamps."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.up = nn.Conv2d(8, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        x = F.leaky_relu(self.down(x), 0.2) + F.leaky_relu(x[:, :1, ::2, ::2], 0.1)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = torch.clamp(self.up(x), -1.0, 1.5).clamp_min(-0.8)
        return self.fc(torch.flatten(x, 1))


class Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = models.InvertedResidual(8, 8, 1, 6)
        self.block2 = models.InvertedResidual(8, 16, 2, 6)
        self.fc = nn.Linear(16, 10)
        # A second head on block1: through block2 alone, block1's last
        # batch-norm bias would reach the loss only through a train-mode
        # batch norm, which cancels it (a zero gradient, all rounding noise).
        self.fc1 = nn.Linear(8, 10)

    def forward(self, x):
        y = self.block1(x)
        x = self.block2(y)
        return (self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)) +
                self.fc1(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)))


def prepared_qat():
    torch.manual_seed(0)
    model = models.SmallCNN()
    model.eval()
    tq.fuse_modules(model, [["conv1", "bn1"], ["conv2", "bn2"]], inplace=True)
    model = nn.Sequential(tq.QuantStub(), model, tq.DeQuantStub())
    model.qconfig = tq.get_default_qat_qconfig("qnnpack")
    model.train()
    tq.prepare_qat(model, inplace=True)
    for _ in range(2):
        model(torch.randn(8, 1, 28, 28))
    return model


def conv_bn_qat():
    """Conv+BN+ReLU in PyTorch's QAT form (fuse_modules_qat): batch-norm
    statistics of the batch, weights scaled by the BN factor (through sqrt)
    before their fake quantization."""
    torch.manual_seed(1)
    model = models.qat_ready(models.ConvBnReluNet(), models.ConvBnReluNet.FUSE)
    for _ in range(2):
        model(torch.randn(8, 1, 28, 28))
    return model


def check(name, model, x, labels, seed=None, frozen=()):
    """Imports `model` in training mode, differentiates it and compares one
    step's loss and gradients with autograd on a copy of the same state.
    Submodules named in `frozen` stay in evaluation mode (frozen batch norm:
    the running statistics normalize and take no update)."""
    model.train()
    for submodule in frozen:
        model.get_submodule(submodule).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.jit.trace(model, x, check_trace=False).save(f"{out}/{name}.pt")
    model.load_state_dict(state)
    qat_mlir.import_torchscript(f"{out}/{name}.pt", f"{out}/{name}.mlir", [x.shape],
                                mode="train")
    subprocess.run([qat_mlir.find_tool("qat-opt"), "--qat-generate-backward",
                    f"{out}/{name}.mlir", "-o", f"{out}/{name}-grad.mlir"], check=True)
    text = open(f"{out}/{name}-grad.mlir").read()
    signature = text[text.index("func.func @loss_and_gradients("):]
    signature = signature[:signature.index(") -> (")]  # the arguments
    names = [n for n in state if f'qat.state = "{n}"' in signature]
    inputs = [state[n].numpy() for n in names] + [x.numpy()]
    if 'qat.input = "rng_seed"' in signature:  # training-mode dropout
        inputs.append(np.array(seed or 0, np.int64))
    inputs.append(labels.numpy())
    results = qat_mlir.run_file(f"{out}/{name}-grad.mlir", "loss_and_gradients", inputs)

    parameters = dict(model.named_parameters())
    trainable = [n for n in names if n in parameters]
    if seed is not None:  # dropout: the reference uses our mask
        linear = model[0](x)
        mask = torch.from_numpy(results[1] != 0).float()
        logits = linear * mask / (1 - model[1].p)
    else:
        logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    assert abs(results[0] - loss.item()) <= 1e-5 * max(1.0, abs(loss.item())), \
        (results[0], loss.item())
    gradients = results[-len(trainable):]
    worst = 0.0
    for parameter, ours in zip(trainable, gradients):
        reference = parameters[parameter].grad.numpy()
        error = np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-30)
        assert error <= TOLERANCE, (name, parameter, error)
        worst = max(worst, error)
    print(f"{name}: loss matches; {len(trainable)} parameter gradients within 1e-4 "
          f"(worst {worst:.2e})")


torch.manual_seed(0)
check("small_cnn", models.randomize_batch_norm(models.SmallCNN()),
      torch.randn(4, 1, 28, 28), torch.tensor([3, 1, 7, 3]))
check("every_op", models.randomize_batch_norm(EveryOp()),
      torch.randn(3, 3, 16, 16), torch.tensor([5, 0, 2]))
check("slicing", Slicing(), torch.randn(3, 3, 8, 8), torch.tensor([4, 0, 2]))
check("decoder", Decoder(), torch.randn(3, 3, 8, 8), torch.tensor([4, 0, 2]))
check("mobilenet_v2_blocks", models.randomize_batch_norm(Blocks()),
      torch.randn(2, 8, 8, 8), torch.tensor([1, 9]))
mobilenet = models.randomize_batch_norm(
    models.MobileNetV2(num_classes=10, width_mult=0.5, in_channels=1, first_stride=1))
mobilenet.classifier[0].p = 0.0
check("mobilenet_v2_28x28", mobilenet, torch.randn(2, 1, 28, 28), torch.tensor([4, 2]),
      frozen=[n for n, m in mobilenet.named_modules() if isinstance(m, nn.BatchNorm2d)])
check("prepared_qat", prepared_qat(), torch.randn(4, 1, 28, 28), torch.tensor([0, 9, 9, 2]))
check("conv_bn_qat", conv_bn_qat(), torch.randn(4, 1, 28, 28), torch.tensor([3, 3, 1, 0]))
check("frozen_bn", models.randomize_batch_norm(models.SmallCNN()),
      torch.randn(4, 1, 28, 28), torch.tensor([2, 8, 0, 5]), frozen=["bn1", "bn2"])
check("dropout", nn.Sequential(nn.Linear(32, 16), nn.Dropout(0.5)),
      torch.randn(8, 32), torch.tensor([1, 2, 3, 4, 5, 6, 7, 15]), seed=7)
