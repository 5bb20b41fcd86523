"""Writes the TorchScript archives (and broken files) that the importer's
FileCheck and error tests read, into the directory given as argv[1]."""

import os
import sys

import torch
from torch import nn
import torch.nn.functional as F

from qat_mlir import models  # noqa: E402

out = sys.argv[1]
torch.manual_seed(0)


class Unsupported(nn.Module):
    def forward(self, x):
        y = torch.relu(x)
        return torch.erf(y)  # no importer rule for aten::erf


class Ops(nn.Module):
    """A few representative ops for FileCheck."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.depthwise = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu6(self.bn(self.depthwise(self.conv(x))))
        x = F.max_pool2d(x, 2, 2)
        return self.fc(torch.flatten(x, 1))


class Slicing(nn.Module):
    """Slices sized for the traced 1 x 8 input: imported for a narrower
    input, they no longer fit."""

    def forward(self, x):
        a, b = x.split([3, 5], dim=1)
        return torch.cat([a, b.narrow(1, 1, 4)], dim=1)


class Resampling(nn.Module):
    """Upsampling by 1.5: not an integer scale, which is not supported (the
    import stops there, before the clamp with a tensor bound, also
    unsupported)."""

    def forward(self, x, lo):
        up = F.interpolate(x, scale_factor=1.5, mode="nearest")
        return up.mean() + torch.clamp(x, min=lo).mean()


def save(model, name, *shapes):
    model.eval()
    traced = torch.jit.trace(model, tuple(torch.randn(s) for s in shapes), check_trace=False)
    traced.save(os.path.join(out, name))


save(Unsupported(), "unsupported.pt", (1, 4))
dropout = nn.Sequential(nn.Conv2d(2, 2, 1), nn.Dropout2d(0.5)).train()
torch.jit.trace(dropout, torch.randn(1, 2, 3, 3), check_trace=False).save(
    os.path.join(out, "dropout2d_train.pt"))
save(Ops(), "ops.pt", (1, 3, 16, 16))
save(Slicing(), "slicing.pt", (1, 8))
save(Resampling(), "resampling.pt", (1, 2, 4, 4), (1, 2, 4, 4))
save(models.randomize_batch_norm(models.SmallCNN()), "small_cnn.pt", (2, 1, 28, 28))

with open(os.path.join(out, "ops.pt"), "rb") as f:
    archive = f.read()
with open(os.path.join(out, "truncated.pt"), "wb") as f:
    f.write(archive[: len(archive) // 2])
with open(os.path.join(out, "random.pt"), "wb") as f:
    f.write(bytes((i * 89 + 17) % 256 for i in range(4096)))
# A plain state_dict saved with torch.save: a zip archive, but no TorchScript.
torch.save(models.SmallCNN().state_dict(), os.path.join(out, "state_dict.pt"))
