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
# CHECK: dropout: forward takes rng_seed; drop rate 0.306; kept values are PyTorch's linear output times 1/(1 - p); the seed decides the mask

import copy
import os
import re
import sys

import numpy as np
import torch

from qat_mlir import models  # noqa: E402

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

# Training-mode dropout: a qat.dropout drawing from forward's rng_seed input.
torch.manual_seed(1)
dropout_model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Dropout(0.3)).train()
x = torch.randn(32, 64)
torch.jit.trace(dropout_model, x, check_trace=False).save(os.path.join(out, "dropout.pt"))
mlir = qat_mlir.import_torchscript(os.path.join(out, "dropout.pt"),
                                   os.path.join(out, "dropout.mlir"), [(32, 64)],
                                   mode="train")
text = open(mlir).read()
assert 'qat.input = "rng_seed"' in text and "qat.dropout" in text
(y,) = qat_mlir.run_file(mlir, "predict", [x.numpy(), np.array(11, np.int64)])
(y_again,) = qat_mlir.run_file(mlir, "predict", [x.numpy(), np.array(11, np.int64)])
(y_other,) = qat_mlir.run_file(mlir, "predict", [x.numpy(), np.array(12, np.int64)])
with torch.no_grad():
    linear = dropout_model[0](x).numpy()
kept = y != 0
scale = np.float32(1.0) / np.float32(1.0 - np.float32(0.3))
assert np.abs(y[kept] - linear[kept] * scale).max() <= 1e-5
rate = 1.0 - kept.mean()
assert abs(rate - 0.3) < 0.02, rate
assert np.array_equal(y, y_again) and not np.array_equal(y == 0, y_other == 0)
print(f"dropout: forward takes rng_seed; drop rate {rate:.3f}; kept values are PyTorch's "
      "linear output times 1/(1 - p); the seed decides the mask")
