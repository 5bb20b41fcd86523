# Models whose forward returns their loss from (inputs, targets), each loss
# of torch.nn.functional the importer knows, against PyTorch autograd: the
# imported model, differentiated by --qat-generate-backward (no built-in
# loss: forward's 0-d result is the loss), gives the loss and the gradient
# of every parameter. Error = max |ours - torch| / max |torch| per
# gradient, bound 1e-5 (f32, sums in another order). The targets are
# class indices (int64 inputs, per pixel for a segmentation head),
# probabilities, or values; the inputs hit the losses' branch points
# (|d| around smooth_l1's beta, logits of both signs).
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: per-pixel cross_entropy (int64 N x H x W targets, mean): loss and 4 gradients within 1e-5
# CHECK: cross_entropy, sum: loss and 4 gradients within 1e-5
# CHECK: cross_entropy on probabilities: loss and 4 gradients within 1e-5
# CHECK: mse_loss: loss and 4 gradients within 1e-5
# CHECK: l1_loss: loss and 4 gradients within 1e-5
# CHECK: smooth_l1_loss (beta 0.5): loss and 4 gradients within 1e-5
# CHECK: binary_cross_entropy_with_logits: loss and 4 gradients within 1e-5
# CHECK: sum of two losses, returning (loss, logits): loss and 4 gradients within 1e-5; the logits (output1) equal
# CHECK: sum over all, over dims with keepdim, and rsub (1 - x): loss and 4 gradients within 1e-5
# CHECK: detection loss (focal + smooth L1, divided by a tensor): loss and 4 gradients within 1e-5
# CHECK: cross_entropy with label smoothing: {{.*}}error: cross_entropy with label smoothing is not supported

import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import qat_mlir
from qat_mlir import models
from qat_mlir.testing import function_signature

out = sys.argv[1]
N, C, H, W = 4, 3, 6, 6


class Head(nn.Module):
    """A small segmentation network: per-pixel scores for C classes."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, C, 1)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(x)))


class WithLoss(nn.Module):
    def __init__(self, loss, both=False):
        super().__init__()
        self.net = Head()
        self.loss = loss
        self.both = both

    def forward(self, x, y):
        scores = self.net(x)
        loss = self.loss(scores, y)
        return (loss, scores) if self.both else loss


torch.manual_seed(0)
x = torch.randn(N, 2, H, W)
classes = torch.randint(0, C, (N, H, W))
probabilities = torch.softmax(torch.randn(N, C, H, W), 1)
values = torch.randn(N, C, H, W)
binary = (torch.rand(N, C, H, W) > 0.5).float()
# models.DetectionLoss's layout for 2 classes and 1 box value: one-hot
# classes at some cells, a value at every cell.
detection_targets = torch.cat([F.one_hot(classes, C).permute(0, 3, 1, 2)[:, :2].float(),
                               values[:, 2:]], 1)
cases = [
    ("per-pixel cross_entropy (int64 N x H x W targets, mean)",
     lambda s, y: F.cross_entropy(s, y), classes),
    ("cross_entropy, sum", lambda s, y: F.cross_entropy(s, y, reduction="sum"), classes),
    ("cross_entropy on probabilities", lambda s, y: F.cross_entropy(s, y), probabilities),
    ("mse_loss", F.mse_loss, values),
    ("l1_loss", F.l1_loss, values),
    ("smooth_l1_loss (beta 0.5)", lambda s, y: F.smooth_l1_loss(s, y, beta=0.5), values),
    ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, binary),
    ("sum of two losses, returning (loss, logits)",
     lambda s, y: F.cross_entropy(s, y) + 0.5 * F.l1_loss(s, torch.zeros_like(s)), classes),
    ("sum over all, over dims with keepdim, and rsub (1 - x)",
     lambda s, y: ((1 - torch.sigmoid(s)) * y).sum((2, 3), keepdim=True).mean() +
     0.1 * s.sum() - 2 * y.sum(1).mean(), values),
    ("detection loss (focal + smooth L1, divided by a tensor)",
     models.DetectionLoss(num_classes=2), detection_targets),
]


def run(*args, check=True):
    done = subprocess.run(args, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(done.stderr)
    return done


for index, (name, loss, y) in enumerate(cases):
    torch.manual_seed(1)
    model = WithLoss(loss, both=name.startswith("sum of two")).train()
    stem = f"{out}/case{index}"
    torch.jit.trace(model, (x, y), check_trace=False).save(f"{stem}.pt")
    qat_mlir.import_torchscript(f"{stem}.pt", f"{stem}.mlir", [x.shape, y.shape], mode="train",
                                input_types=["f32", "i64" if y.dtype == torch.int64 else "f32"])
    run(qat_mlir.find_tool("qat-opt"), "--qat-generate-backward", f"{stem}.mlir",
        "-o", f"{stem}-grad.mlir")
    argument_names, result_names = function_signature(
        open(f"{stem}-grad.mlir").read(), "loss_and_gradients")
    assert "labels" not in [n for _, n in argument_names]
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    inputs = [state[n] if role == "state" else (x.numpy() if n == "x" else y.numpy())
              for role, n in argument_names]
    outputs = dict(zip(result_names, qat_mlir.run_file(f"{stem}-grad.mlir",
                                                      "loss_and_gradients", inputs)))
    result = model(x, y)
    reference = result[0] if isinstance(result, tuple) else result
    reference.backward()
    assert abs(outputs["loss"] - reference.item()) <= 1e-5 * abs(reference.item()), (
        name, outputs["loss"], reference.item())
    checked = 0
    for parameter_name, parameter in model.named_parameters():
        theirs = parameter.grad.numpy()
        error = np.abs(outputs[parameter_name] - theirs).max() / np.abs(theirs).max()
        assert error <= 1e-5, (name, parameter_name, error)
        checked += 1
    line = f"{name}: loss and {checked} gradients within 1e-5"
    if isinstance(result, tuple):
        difference = np.abs(outputs["output1"] - result[1].detach().numpy()).max()
        assert difference <= 1e-5, difference
        line += "; the logits (output1) equal"
    print(line)

torch.jit.trace(WithLoss(lambda s, y: F.cross_entropy(s, y, label_smoothing=0.1)),
                (x, classes), check_trace=False).save(f"{out}/smoothing.pt")
done = run(qat_mlir.find_tool("qat-import"), f"{out}/smoothing.pt", "--mode", "train",
           "--input-shape", "4x2x6x6", "--input-shape", "4x6x6xi64", "-o",
           f"{out}/smoothing.mlir", check=False)
assert done.returncode == 1
print("cross_entropy with label smoothing: " + done.stderr.strip().splitlines()[0])
