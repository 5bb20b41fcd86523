# --qat-stat-assist on a model prepared for QAT by PyTorch (fused
# Conv+BN+ReLU and Conv+ReLU QAT modules, batch norm in its QAT form,
# qnnpack qconfig): one step of the derived FP
# warm-up equals PyTorch training the same model with fake quantization
# disabled and observers on (StatAssist's warm-up in PyTorch terms): the
# loss, every updated parameter and momentum buffer, and the observer ranges
# recorded from the FP activations. With the reference behaviour the
# warm-up keeps its observer state apart (stat_assist.*); with
# inherit-observers QAT starts from it.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: warm-up step: loss matches PyTorch without fake quantization
# CHECK: parameters and momentum after one step: {{[0-9]+}} tensors within 1e-5
# CHECK: observer ranges from FP activations: {{[0-9]+}} tensors within 1e-5
# CHECK: reference: the warm-up writes {{[0-9]+}} observer tensors as stat_assist.*, none of QAT's

import re
import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.ao.quantization as tq
import torch.nn.functional as F

import qat_mlir
from qat_mlir import models

warnings.filterwarnings("ignore")
out = sys.argv[1]



# No max pooling: where two window values are within an ulp, the different
# summation orders of PyTorch's convolution and ours pick different maxima
# and route that gradient differently (both valid).
torch.manual_seed(0)
model = models.qat_ready(models.ConvBnReluNet(), models.ConvBnReluNet.FUSE)
x = torch.randn(8, 1, 28, 28)
labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
state = {k: v.clone() for k, v in model.state_dict().items()}
torch.jit.trace(model, x, check_trace=False).save(f"{out}/prepared.pt")
model.load_state_dict(state)
qat_mlir.import_torchscript(f"{out}/prepared.pt", f"{out}/prepared.mlir", [x.shape],
                            mode="train")
tool = qat_mlir.find_tool("qat-opt")
for mode in ("inherit", "reference"):
    subprocess.run([tool, "--qat-generate-backward", "--qat-optimizer",
                    f"--qat-stat-assist=inherit-observers={'true' if mode == 'inherit' else 'false'}",
                    f"{out}/prepared.mlir", "-o", f"{out}/{mode}.mlir"], check=True)


def signature(path, name):
    text = open(path).read()
    header = text[text.index(f"func.func @{name}("):]
    arguments, results = header[:header.index("{\n")].split(") -> (")
    return (re.findall(r'qat\.(state|input) = "([^"]+)"', arguments),
            [re.search(r'qat\.(?:state|output) = "([^"]+)"', r).group(1)
             for r in re.findall(r"tensor<[^>]*> \{[^}]*\}", results)])


lr = 0.05
arguments, results = signature(f"{out}/inherit.mlir", "train_step_warmup")
inputs = []
for role, name in arguments:
    if role == "state":
        inputs.append(np.zeros_like(state[name[len("sgd.momentum."):]].numpy())
                      if name.startswith("sgd.momentum.") else state[name].numpy())
    elif name == "labels":
        inputs.append(labels.numpy())
    elif name == "learning_rate":
        inputs.append(np.array(lr, np.float32))
    else:
        inputs.append(x.numpy())
ours = dict(zip(results, qat_mlir.run_file(f"{out}/inherit.mlir", "train_step_warmup", inputs)))

# PyTorch: the same model, fake quantization off, observers on.
model.apply(tq.disable_fake_quant)
groups = {"conv": [], "other": []}
for name, parameter in model.named_parameters():
    groups["conv" if parameter.dim() == 4 else "other"].append(parameter)
optimizer = torch.optim.SGD([{"params": groups["conv"], "weight_decay": 1e-5},
                             {"params": groups["other"], "weight_decay": 1e-7}],
                            lr=lr, momentum=0.9, nesterov=True)
loss = F.cross_entropy(model(x), labels)
loss.backward()
optimizer.step()
assert abs(ours["loss"] - loss.item()) <= 1e-5 * loss.item(), (ours["loss"], loss.item())
print("warm-up step: loss matches PyTorch without fake quantization")


def close(mine, theirs):
    return np.abs(mine - theirs).max() <= 1e-5 * max(np.abs(theirs).max(), 1e-30)


checked = 0
for name, parameter in model.named_parameters():
    assert close(ours[name], parameter.detach().numpy()), name
    assert close(ours["sgd.momentum." + name],
                 optimizer.state[parameter]["momentum_buffer"].numpy()), name
    checked += 2
print(f"parameters and momentum after one step: {checked} tensors within 1e-5")
after = model.state_dict()
observers = [k for k in ours if k.endswith(".min_val") or k.endswith(".max_val")]
assert observers
for name in observers:
    assert close(ours[name], after[name].numpy()), (name, ours[name], after[name])
print(f"observer ranges from FP activations: {len(observers)} tensors within 1e-5")

_, reference_results = signature(f"{out}/reference.mlir", "train_step_warmup")
renamed = [r for r in reference_results if r.startswith("stat_assist.")]
assert renamed and all(r[len("stat_assist."):] not in reference_results for r in renamed)
assert all("stat_assist." + r in reference_results for r in observers)
print(f"reference: the warm-up writes {len(renamed)} observer tensors as stat_assist.*, "
      "none of QAT's")
