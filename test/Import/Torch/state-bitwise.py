# Parameters and buffers keep their PyTorch names and exact values: every
# state_dict entry of an imported model is an ml_program.global of that name
# whose value, read back through compiled code, equals PyTorch's bit for bit.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %S/Inputs/make_models.py %t
# RUN: qat-import %t/small_cnn.pt --input-shape 2x1x28x28 -o %t/small_cnn.mlir
# RUN: %python %s %t | FileCheck %s
#
# CHECK: 14 state_dict entries bit-identical: conv1.weight, bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var, bn1.num_batches_tracked, conv2.weight, bn2.weight, bn2.bias, bn2.running_mean, bn2.running_var, bn2.num_batches_tracked, fc.weight, fc.bias

import os
import re
import sys

import numpy as np
import torch

import qat_mlir
from qat_mlir.testing import assert_bitwise_equal

out = sys.argv[1]
state = torch.jit.load(os.path.join(out, "small_cnn.pt")).state_dict()
module = open(os.path.join(out, "small_cnn.mlir")).read()

# A function that returns every global, appended to the imported module.
globals_ = re.findall(r"ml_program.global private @([\w.]+)\(.*\) : (tensor<[^>]*>)\n", module)
assert [name for name, _ in globals_] == list(state.keys()), globals_
loads = "\n".join(f"    %{i} = ml_program.global_load @{name} : {t}"
                  for i, (name, t) in enumerate(globals_))
types = ", ".join(t for _, t in globals_)
values = ", ".join(f"%{i}" for i in range(len(globals_)))
getter = f"  func.func @state() -> ({types}) {{\n{loads}\n    return {values} : {types}\n  }}\n"
module = module.replace("\n  func.func @forward", "\n" + getter + "  func.func @forward", 1)

outputs = qat_mlir.run(module, "state", [])
for (name, tensor), value in zip(state.items(), outputs):
    assert_bitwise_equal(value, tensor.numpy(), name)
print(f"{len(state)} state_dict entries bit-identical: " + ", ".join(state.keys()))
