# --qat-prepare on models that return their loss: the network is prepared as
# PyTorch's prepare_qat prepares the module inside the loss. Its input gets
# an observer and fake quantization (QuantStub); the loss's ops (marked
# qat.loss by the importer) and everything after them stay in float; the
# loss reads the network's fake-quantized output (as through a
# DeQuantStub); a target stays raw and unobserved, also when it reaches the
# loss through a reshape; a target that also feeds a layer (a GAN
# discriminator's real images) is quantized for that layer.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: mse, target through view_as: observed inputs [{{.}}x{{.}}]; 3 fake quantizations, none on or after the loss ({{[0-9]+}} qat.loss ops)
# CHECK: the loss reads the network's fake-quantized output
# CHECK: target also read by a layer: observed inputs ['x', 'y']
# CHECK: fp32 classifier: observed inputs ['x']

import re
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch import nn

import qat_mlir

out = sys.argv[1]


class Regression(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x, y):
        scores = self.fc(x)
        return F.mse_loss(scores, y.view_as(scores)), scores


class Critic(nn.Module):
    """A discriminator's loss: D reads both the generated and the real
    (target) batch."""

    def __init__(self):
        super().__init__()
        self.g = nn.Linear(4, 4)
        self.d = nn.Linear(4, 1)

    def forward(self, x, y):
        fake, real = self.d(self.g(x)), self.d(y)
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) +
                F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


def prepared(model, examples, name):
    torch.jit.trace(model, examples, check_trace=False).save(f"{out}/{name}.pt")
    qat_mlir.import_torchscript(f"{out}/{name}.pt", f"{out}/{name}.mlir",
                                [e.shape for e in examples], mode="train")
    done = subprocess.run([qat_mlir.find_tool("qat-opt"), f"{out}/{name}.mlir", "--qat-prepare"],
                          capture_output=True, text=True, check=True)
    text = done.stdout
    forward = text[text.index("func.func @forward("):]
    forward = forward[:forward.index("\n  }\n")]
    observed = sorted(set(re.findall(r"@quant\.(\w+)\.activation_post_process\.", text)))
    return forward, observed


forward, observed = prepared(Regression(), (torch.randn(8, 4), torch.randn(8, 3, 1)), "mse")
lines = forward.splitlines()
first_loss = next(i for i, line in enumerate(lines) if "qat.loss" in line)
quantized = [i for i, line in enumerate(lines) if "qat.fake_quant %" in line]
losses = sum("qat.loss" in line for line in lines)
assert quantized and max(quantized) < first_loss, (quantized, first_loss)
print(f"mse, target through view_as: observed inputs {observed}; {len(quantized)} fake "
      f"quantizations, none on or after the loss ({losses} qat.loss ops)")
output = re.search(r"(%\d+) = qat\.fake_quant %\d+", lines[max(quantized)]).group(1)
assert re.search(rf"tosa\.sub {output}, ", lines[first_loss]), lines[first_loss]
print("the loss reads the network's fake-quantized output")

forward, observed = prepared(Critic(), (torch.randn(8, 4), torch.randn(8, 4)), "critic")
print(f"target also read by a layer: observed inputs {observed}")

forward, observed = prepared(Classifier(), (torch.randn(8, 4),), "classifier")
print(f"fp32 classifier: observed inputs {observed}")
