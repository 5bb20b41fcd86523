# Three training steps of --qat-optimizer=algorithm=adam against
# torch.optim.Adam with the same parameter groups (weight decay: depthwise
# weights 0, other 4-D weights 1e-2, the rest 1e-3, large so that a
# misgrouped parameter shows), betas (0.8, 0.99) and eps 1e-6 (not the
# defaults, so that a swapped or ignored option shows), on a model with a
# depthwise convolution, batch norm in training mode and a linear layer.
# The moments and the step count are threaded from step to step; the bias
# corrections differ in every step. Error = max |ours - torch| / max |torch|
# per parameter and moment.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: weight decay groups: depthwise 0 (1), conv 0.01 (2), other 0.001 (6)
# CHECK: step 1: loss matches; 9 parameters and 18 moments within 1e-5; adam.step = 1
# CHECK: step 2: loss matches; 9 parameters and 18 moments within 1e-5; adam.step = 2
# CHECK: step 3: loss matches; 9 parameters and 18 moments within 1e-5; adam.step = 3

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
    """No parameter whose gradient a later train-mode batch norm cancels:
    Adam divides by the gradient's size, so a gradient that is 0 up to
    rounding would give updates that are rounding noise."""

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
lr = 2.0 ** -7  # exact in f32, as the step's learning_rate input is
betas, eps = (0.8, 0.99), 1e-6
state = {k: v.clone() for k, v in model.state_dict().items()}
torch.jit.trace(model, x, check_trace=False).save(f"{out}/net.pt")
model.load_state_dict(state)
qat_mlir.import_torchscript(f"{out}/net.pt", f"{out}/net.mlir", [x.shape], mode="train")
decay = {"depthwise": 0.0, "conv": 1e-2, "other": 1e-3}
subprocess.run([qat_mlir.find_tool("qat-opt"), "--qat-generate-backward",
                "--qat-optimizer=algorithm=adam beta1=0.8 beta2=0.99 epsilon=1e-6 "
                "weight-decay-depthwise=0 weight-decay-conv=1e-2 weight-decay-other=1e-3",
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
optimizer = torch.optim.Adam([{"params": p, "weight_decay": decay[g]} for g, p in groups.items()],
                             lr=lr, betas=betas, eps=eps)

ours = {k: v.numpy().copy() for k, v in state.items()}
ours["adam.step"] = np.array(0, np.int64)
for step in (1, 2, 3):
    inputs = []
    for role, name in argument_names:
        if role == "state":
            if name not in ours:  # a moment, zero before the first step
                ours[name] = np.zeros_like(ours[name.split(".", 2)[2]])
            inputs.append(ours[name])
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
    parameters = moments = 0
    for name, parameter in model.named_parameters():
        theirs = optimizer.state[parameter]
        for mine, reference in ((ours[name], parameter.detach().numpy()),
                                (ours["adam.exp_avg." + name], theirs["exp_avg"].numpy()),
                                (ours["adam.exp_avg_sq." + name], theirs["exp_avg_sq"].numpy())):
            error = np.abs(mine - reference).max() / np.abs(reference).max()
            assert error <= 1e-5, (step, name, error)
        parameters += 1
        moments += 2
        assert int(theirs["step"]) == step
    print(f"step {step}: loss matches; {parameters} parameters and {moments} moments "
          f"within 1e-5; adam.step = {int(ours['adam.step'])}")
