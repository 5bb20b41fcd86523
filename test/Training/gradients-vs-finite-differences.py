# Every gradient rule against central finite differences of our own compiled
# loss, on small random shapes: for each model below, the directional
# derivative <gradient, v> from @loss_and_gradients must match
# (L(theta + h v) - L(theta - h v)) / 2h for random directions v over all
# parameters. Each model isolates a few rules (named in its docstring) after
# or between parameterized layers, so the parameters' gradients flow
# through them.
#
# In f32 (tosa has no f64): with h = 1e-2 on a unit direction the loss
# changes by ~1e-3 and is exact to ~2e-7, so the bound is 2% of the
# derivative plus 1e-4 (h = 1e-3 where a larger step crosses a kink). Kinks (ReLU at 0, max-pool ties, fake-quant steps)
# are where finite differences are not the derivative: random data keeps
# them away from the probed points, and fake quantization's straight-through
# estimator is a definition, checked against PyTorch's instead
# (gradients-vs-pytorch.py).
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: linear: 2 directions within bound
# CHECK: conv_padded_strided_dilated: 2 directions within bound
# CHECK: grouped_and_depthwise_conv: 2 directions within bound
# CHECK: batch_norm_train: 2 directions within bound
# CHECK: batch_norm_frozen: 2 directions within bound
# CHECK: pooling: 2 directions within bound
# CHECK: clamps_sigmoid_tanh: 2 directions within bound
# CHECK: exp_log_reciprocal_sqrt: 2 directions within bound
# CHECK: products_concat_reductions: 2 directions within bound
# CHECK: dropout: 2 directions within bound

import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import qat_mlir

warnings.filterwarnings("ignore")
out = sys.argv[1]
H = 1e-2


class Linear(nn.Module):
    """tosa.matmul, tosa.transpose, tosa.reshape, tosa.add (bias
    broadcast), softmax cross-entropy."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(12, 16), nn.Linear(16, 5)

    def forward(self, x):
        return self.fc2(self.fc1(x.flatten(1)))


class ConvPadded(nn.Module):
    """tensor.pad, linalg.conv_2d_nchw_fchw with stride 2, dilation 2."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=2, dilation=2)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class GroupedConv(nn.Module):
    """tensor.expand_shape / collapse_shape and linalg.conv_2d_ngchw_gfchw
    (groups 2), depthwise convolution."""

    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.depthwise = nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False)
        self.fc = nn.Linear(6 * 6 * 6, 5)

    def forward(self, x):
        return self.fc(self.depthwise(self.grouped(x)).flatten(1))


class BatchNormTrain(nn.Module):
    """qat.batch_norm with the batch's statistics."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).flatten(1))


class Pooling(nn.Module):
    """linalg max pooling with overlapping, padded windows; average pooling
    (sum pooling and a scale)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 1 * 1 + 4 * 3 * 3, 5)

    def forward(self, x):
        y = self.conv(x)
        a = F.max_pool2d(y, 3, stride=2, padding=1)
        b = F.avg_pool2d(a, 3)
        return self.fc(torch.cat([b.flatten(1), a.flatten(1)], 1))


class Activations(nn.Module):
    """tosa.clamp (ReLU, ReLU6, clamp, LeakyReLU), tosa.sigmoid, tosa.tanh,
    nearest upsampling."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(12, 16), nn.Linear(48 + 16 + 64, 5)

    def forward(self, x):
        y = 3 * self.fc1(x.flatten(1))
        up = F.interpolate(F.leaky_relu(y.view(-1, 1, 4, 4), 0.2), scale_factor=2)
        return self.fc2(torch.cat([F.relu(y), F.relu6(y) + torch.sigmoid(y), torch.tanh(y),
                                   torch.clamp(y, -1.0, 2.0), up.flatten(1)], 1))


class Transcendental(nn.Module):
    """tosa.exp, tosa.log, tosa.reciprocal (division), math.sqrt."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(12, 16), nn.Linear(16, 5)

    def forward(self, x):
        y = self.fc1(x.flatten(1))
        z = torch.log(torch.exp(y) + 1) + y / (1 + y * y) + torch.sqrt(y * y + 1)
        return self.fc2(z)


class Products(nn.Module):
    """tosa.mul of two activations, tosa.sub, concatenation, tosa.reduce_sum
    (mean) and tosa.reduce_max (log_softmax)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(12, 8), nn.Linear(12, 8)
        self.fc = nn.Linear(17, 5)

    def forward(self, x):
        x = x.flatten(1)
        p, q = self.a(x), self.b(x)
        mean = (p * q).mean(1, keepdim=True)
        return self.fc(torch.cat([F.log_softmax(p - q, 1), q, mean], 1))


def trainable_names(text):
    signature = text[text.index("func.func @loss_and_gradients("):]
    signature = signature[:signature.index(") -> (")]
    return signature


def check(name, model, x, labels, frozen=(), seed=None, h=H):
    model.train()
    for submodule in frozen:
        getattr(model, submodule).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.jit.trace(model, x, check_trace=False).save(f"{out}/{name}.pt")
    qat_mlir.import_torchscript(f"{out}/{name}.pt", f"{out}/{name}.mlir", [x.shape],
                                mode="train")
    subprocess.run([qat_mlir.find_tool("qat-opt"), "--qat-generate-backward",
                    f"{out}/{name}.mlir", "-o", f"{out}/{name}-grad.mlir"], check=True)
    signature = trainable_names(open(f"{out}/{name}-grad.mlir").read())
    names = [n for n in state if f'qat.state = "{n}"' in signature]
    parameters = [n for n, _ in model.named_parameters() if n in names]

    def run(values):
        inputs = [values[n] for n in names] + [x.numpy()]
        if 'qat.input = "rng_seed"' in signature:
            inputs.append(np.array(seed, np.int64))
        inputs.append(labels.numpy())
        return qat_mlir.run_file(f"{out}/{name}-grad.mlir", "loss_and_gradients", inputs)

    base = {n: state[n].numpy() for n in names}
    results = run(base)
    gradients = dict(zip(parameters, results[-len(parameters):]))
    rng = np.random.default_rng(0)
    for _ in range(2):
        direction = {n: rng.standard_normal(base[n].shape).astype(np.float32) for n in parameters}
        norm = np.sqrt(sum(float((d.astype(np.float64) ** 2).sum()) for d in direction.values()))
        direction = {n: d / np.float32(norm) for n, d in direction.items()}
        plus = dict(base, **{n: base[n] + h * direction[n] for n in parameters})
        minus = dict(base, **{n: base[n] - h * direction[n] for n in parameters})
        finite = (float(run(plus)[0]) - float(run(minus)[0])) / (2 * h)
        analytic = sum(float((gradients[n].astype(np.float64) * direction[n]).sum())
                       for n in parameters)
        assert abs(finite - analytic) <= 2e-2 * abs(analytic) + 1e-4, (name, finite, analytic)
    print(f"{name}: 2 directions within bound")


torch.manual_seed(0)
labels = torch.tensor([1, 4, 0, 3])
check("linear", Linear(), torch.randn(4, 3, 2, 2), labels)
check("conv_padded_strided_dilated", ConvPadded(), torch.randn(4, 3, 6, 6), labels)
check("grouped_and_depthwise_conv", GroupedConv(), torch.randn(4, 4, 6, 6), labels)
check("batch_norm_train", BatchNormTrain(), torch.randn(4, 3, 6, 6), labels)
frozen = BatchNormTrain()
frozen.bn.running_mean.uniform_(-0.5, 0.5)
frozen.bn.running_var.uniform_(0.5, 2.0)
check("batch_norm_frozen", frozen, torch.randn(4, 3, 6, 6), labels, frozen=["bn"])
check("pooling", Pooling(), torch.randn(4, 3, 6, 6), labels)
# A smaller step: with h = 1e-2 one of the 64 ReLU inputs crosses 0 (our
# directional derivative equals PyTorch's f64 autograd there; the finite
# difference does not).
check("clamps_sigmoid_tanh", Activations(), torch.randn(4, 3, 2, 2), labels, h=1e-3)
check("exp_log_reciprocal_sqrt", Transcendental(), torch.randn(4, 3, 2, 2), labels)
check("products_concat_reductions", Products(), torch.randn(4, 3, 2, 2), labels)
check("dropout", nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Dropout(0.5), nn.Linear(16, 5)),
      torch.randn(4, 3, 2, 2), labels, seed=3)
