# qat-export writes a module's globals as a PyTorch state_dict: an imported
# model's state loads into a fresh PyTorch model bit for bit, and values
# changed in the MLIR module (as training will change them) are what the
# exported state_dict holds.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %S/Inputs/make_models.py %t
# RUN: qat-import %t/small_cnn.pt --input-shape 2x1x28x28 -o %t/small_cnn.mlir
# RUN: qat-export %t/small_cnn.mlir -o %t/state_dict.pt
# RUN: %python %s %t | FileCheck %s
# RUN: not qat-export %S/Inputs/f16-global.mlir -o %t/f16.pt 2>&1 | FileCheck %s --check-prefix=F16
# RUN: test ! -e %t/f16.pt
#
# CHECK: round trip: 14 entries loaded with load_state_dict(strict=True), bit-identical
# CHECK: edited fc.bias exported: [0.25, -1.5, 3.0, 0.0, 1.0000000116860974e-07, -0.0, 7.0, 8.0, 9.0, 10.0]
# F16: f16-global.mlir:3:3: error: global 'half' has element type 'f16', which has no PyTorch dtype here

import os
import re
import subprocess
import sys

import numpy as np
import torch

from qat_mlir import models  # noqa: E402

import qat_mlir  # noqa: E402
from qat_mlir.testing import assert_bitwise_equal  # noqa: E402

out = sys.argv[1]
original = torch.jit.load(os.path.join(out, "small_cnn.pt")).state_dict()
exported = torch.load(os.path.join(out, "state_dict.pt"))
model = models.SmallCNN()
model.load_state_dict(exported, strict=True)
for name, tensor in model.state_dict().items():
    assert_bitwise_equal(tensor.numpy(), original[name].numpy(), name)
print(f"round trip: {len(exported)} entries loaded with load_state_dict(strict=True), "
      "bit-identical")

# Edit a global in the module text, export again, and read it back.
path = os.path.join(out, "small_cnn.mlir")
text = open(path).read()
new_bias = "[2.500000e-01, -1.500000e+00, 3.000000e+00, 0.000000e+00, 1.000000e-07, " \
           "-0.000000e+00, 7.000000e+00, 8.000000e+00, 9.000000e+00, 1.000000e+01]"
text, count = re.subn(r"(@fc\.bias\()dense<[^>]*>", r"\1dense<" + new_bias + ">", text)
assert count == 1
edited = os.path.join(out, "edited.mlir")
open(edited, "w").write(text)
subprocess.run([qat_mlir.find_tool("qat-export"), edited, "-o",
                os.path.join(out, "edited.pt")], check=True)
bias = torch.load(os.path.join(out, "edited.pt"))["fc.bias"]
assert bias.dtype == torch.float32 and np.signbit(bias[5].item())
print("edited fc.bias exported:", [float(v) for v in bias.numpy()])
