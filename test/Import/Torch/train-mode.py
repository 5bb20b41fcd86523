# --mode train: batch norm normalizes with the batch's statistics, and
# forward returns the running mean, running variance and batch counter that
# PyTorch's training-mode forward writes, as state updates.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: outputs: max relative error {{.*}} (<= 1e-4)
# CHECK: updated: bn1.running_mean, bn1.running_var, bn1.num_batches_tracked, bn2.running_mean, bn2.running_var, bn2.num_batches_tracked
# CHECK: running statistics within 1e-6 of PyTorch; counters exact

import copy
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "Inputs"))
import models  # noqa: E402

import qat_mlir  # noqa: E402

out = sys.argv[1]
torch.manual_seed(0)
model = models.randomize_batch_norm(models.SmallCNN()).train()
x = torch.randn(8, 1, 28, 28)
before = copy.deepcopy(model.state_dict())
traced = torch.jit.trace(model, x, check_trace=False)
traced.load_state_dict(before)
traced.save(os.path.join(out, "train.pt"))
model.load_state_dict(before)
with torch.no_grad():
    expected = model(x).numpy()
after = model.state_dict()

mlir = qat_mlir.import_torchscript(os.path.join(out, "train.pt"),
                                   os.path.join(out, "train.mlir"), [(8, 1, 28, 28)],
                                   mode="train")
signature = re.search(r"func\.func @forward\((.*)\) -> \((.*)\) \{", open(mlir).read())
arg_names = re.findall(r'qat\.state = "([^"]+)"', signature.group(1))
result_names = re.findall(r'qat\.state = "([^"]+)"', signature.group(2))
results = qat_mlir.run_file(mlir, "forward",
                            [before[n].numpy() for n in arg_names] + [x.numpy()])
relative = np.abs(results[0] - expected).max() / np.abs(expected).max()
assert relative <= 1e-4, relative
print(f"outputs: max relative error {relative:.1e} (<= 1e-4)")
print("updated: " + ", ".join(result_names))
for name, value in zip(result_names, results[1:]):
    reference = after[name].numpy()
    if value.dtype.kind == "f":
        assert np.abs(value - reference).max() <= 1e-6, name
    else:
        assert (value == reference).all() and value.dtype == reference.dtype, name
print("running statistics within 1e-6 of PyTorch; counters exact")
