# Two training steps of --qat-optimizer (SGD, momentum 0.9, Nesterov, weight
# decay per parameter group: depthwise weights 0, other 4-D weights 1e-2,
# the rest 1e-3, large so that a misgrouped parameter shows) against torch.optim.SGD with the same groups, on a model
# with a depthwise convolution, batch norm in training mode and a linear
# layer. The momentum buffers are threaded from the first step into the
# second. Error = max |ours - torch| / max |torch| per parameter and buffer.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: weight decay groups: depthwise 0 (1), conv 0.01 (2), other 0.001 (6)
# CHECK: step 1: loss matches; 9 parameters and 9 momentum buffers within 1e-5
# CHECK: step 2: loss matches; 9 parameters and 9 momentum buffers within 1e-5

import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import qat_mlir
from qat_mlir.testing import function_signature

out = sys.argv[1]
torch.manual_seed(0)


class Net(nn.Module):
    """No parameter whose gradient a later train-mode batch norm cancels
    (a conv bias before it, a scale before ReLU and it): such gradients are
    0 up to rounding, and relative errors on them are meaningless."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.depthwise = nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)
        self.pointwise = nn.Conv2d(4, 8, 1)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = F.relu(self.pointwise(F.relu6(self.depthwise(x))))
        return self.fc(torch.flatten(x, 1))


model = Net().train()
x = torch.randn(4, 1, 8, 8)
labels = torch.tensor([1, 7, 3, 3])
lr = 0.1
state = {k: v.clone() for k, v in model.state_dict().items()}
torch.jit.trace(model, x, check_trace=False).save(f"{out}/net.pt")
model.load_state_dict(state)
qat_mlir.import_torchscript(f"{out}/net.pt", f"{out}/net.mlir", [x.shape], mode="train")
# Decays large enough that a parameter in the wrong group fails the bound.
decay = {"depthwise": 0.0, "conv": 1e-2, "other": 1e-3}
subprocess.run([qat_mlir.find_tool("qat-opt"), "--qat-generate-backward",
                "--qat-optimizer=weight-decay-depthwise=0 weight-decay-conv=1e-2 "
                "weight-decay-other=1e-3",
                f"{out}/net.mlir", "-o", f"{out}/step.mlir"], check=True)

argument_names, result_names = function_signature(open(f"{out}/step.mlir").read(),
                                                  "train_step")

groups = {"depthwise": [], "conv": [], "other": []}
for name, parameter in model.named_parameters():
    if parameter.dim() == 4:
        groups["depthwise" if name == "depthwise.weight" else "conv"].append(parameter)
    else:
        groups["other"].append(parameter)
print("weight decay groups: " + ", ".join(
    f"{g} {decay[g]:g} ({len(p)})" for g, p in groups.items()))
optimizer = torch.optim.SGD([{"params": p, "weight_decay": decay[g]} for g, p in groups.items()],
                            lr=lr, momentum=0.9, nesterov=True)

ours = {k: v.numpy().copy() for k, v in state.items()}
for step in (1, 2):
    inputs = []
    for role, name in argument_names:
        if role == "state":
            inputs.append(ours[name] if name in ours else
                          np.zeros_like(ours[name[len("sgd.momentum."):]]))
        elif name == "labels":
            inputs.append(labels.numpy())
        elif name == "learning_rate":
            inputs.append(np.array(lr, np.float32))
        else:
            inputs.append(x.numpy())
    outputs = qat_mlir.run_file(f"{out}/step.mlir", "train_step", inputs)
    named = dict(zip(result_names, outputs))
    ours.update({k: v for k, v in named.items() if k not in ("loss", "logits")})

    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    optimizer.step()
    assert abs(named["loss"] - loss.item()) <= 1e-5 * abs(loss.item())
    checked = 0
    for name, parameter in model.named_parameters():
        for mine, theirs in ((ours[name], parameter.detach().numpy()),
                             (ours["sgd.momentum." + name],
                              optimizer.state[parameter]["momentum_buffer"].numpy())):
            error = np.abs(mine - theirs).max() / np.abs(theirs).max()
            assert error <= 1e-5, (step, name, error)
        checked += 1
    print(f"step {step}: loss matches; {checked} parameters and {checked} momentum buffers "
          "within 1e-5")
