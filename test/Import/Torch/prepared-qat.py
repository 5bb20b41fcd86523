# A model prepared for QAT by PyTorch (prepare_qat, qnnpack qconfig) imports
# with its fake quantization: every FakeQuantize becomes qat ops (observer,
# the fused kernel's parameter rule, fake_quant) whose state updates forward
# returns. Checked against PyTorch running the same model on the same batch:
# - the scales and zero-points imported are PyTorch's, bit for bit;
# - the outputs agree (bit for bit except where a float summation-order
#   difference moves a value across a rounding boundary: at most one
#   quantization step of the output, on few elements);
# - the state written back (ranges, scales, zero-points) is PyTorch's, bit
#   for bit where PyTorch observes data we reproduce exactly (the input and
#   the weights), and within 1e-5 relative elsewhere.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %S/Inputs/prepared_qat.py %t
# RUN: qat-import %t/prepared.pt --input-shape 2x1x8x8 -o %t/prepared.mlir
# RUN: FileCheck %s --check-prefix=IR < %t/prepared.mlir
# RUN: %python %s %t | FileCheck %s
#
# IR: ml_program.global private mutable @quant.activation_post_process.scale
# IR-LABEL: func.func @forward(
# IR-SAME: {qat.state = "quant.activation_post_process.activation_post_process.min_val"}
# IR: qat.observe_moving_average_min_max %{{.*}} averaging_constant 0.00999999977 : tensor<2x1x8x8xf32>, tensor<f32>
# IR: qat.choose_qparams affine {{.*}} to ui8[0 : 255] using fake_quant_kernel : tensor<f32>
# IR: qat.fake_quant {{.*}} to ui8[0 : 255] : tensor<2x1x8x8xf32>, tensor<f32>, tensor<i32>
# IR: qat.choose_qparams symmetric {{.*}} to si8[-128 : 127] using fake_quant_kernel : tensor<f32>
# IR-LABEL: func.func @predict(
# IR: ml_program.global_store @quant.activation_post_process.scale
#
# CHECK: imported scales and zero-points: 10 buffers bit-identical
# CHECK: outputs: {{[0-9]+}}/10 bit-identical, max difference {{.*}} <= one output step {{.*}}
# CHECK: input and weight observers after one step: bit-identical
# CHECK: all 20 updated buffers match PyTorch

import os
import re
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "Inputs"))
import prepared_qat  # noqa: E402

import qat_mlir  # noqa: E402
from qat_mlir.testing import assert_bitwise_equal  # noqa: E402

out = sys.argv[1]
archive = torch.jit.load(os.path.join(out, "prepared.pt"))
model = prepared_qat.build()
model.load_state_dict(archive.state_dict())
before = {k: v.clone() for k, v in model.state_dict().items()}

# The imported globals hold PyTorch's parameters exactly.
text = open(os.path.join(out, "prepared.mlir")).read()
subprocess.run([qat_mlir.find_tool("qat-export"), os.path.join(out, "prepared.mlir"),
                "-o", os.path.join(out, "state.pt")], check=True)
exported = torch.load(os.path.join(out, "state.pt"))
qparams = [k for k in before if k.endswith(".scale") or k.endswith(".zero_point")]
for name in qparams:
    assert_bitwise_equal(exported[name].numpy(), before[name].numpy(), name)
print(f"imported scales and zero-points: {len(qparams)} buffers bit-identical")

# One step on the same batch: PyTorch mutates its buffers, forward returns
# the new values.
torch.manual_seed(1)
x = torch.randn(2, 1, 8, 8)
with torch.no_grad():
    expected = model(x).numpy()
after = model.state_dict()

signature = re.search(r"func\.func @forward\((.*)\) -> \((.*)\) \{", text)
arg_names = re.findall(r'qat\.state = "([^"]+)"', signature.group(1))
result_names = re.findall(r'qat\.state = "([^"]+)"', signature.group(2))
inputs = [before[name].numpy() for name in arg_names] + [x.numpy()]
results = qat_mlir.run_file(os.path.join(out, "prepared.mlir"), "forward", inputs)
actual, updates = results[0], dict(zip(result_names, results[1:]))

step = float(after["fc.activation_post_process.scale"])
difference = np.abs(actual - expected)
same = int((difference == 0).sum())
assert difference.max() <= step * 1.0001, (difference.max(), step)
assert same >= actual.size * 0.8, same
print(f"outputs: {same}/{actual.size} bit-identical, max difference "
      f"{difference.max():.3g} <= one output step {step:.3g}")

exact = [n for n in updates if n.startswith("quant.") or "weight_fake_quant" in n]
for name in exact:
    assert_bitwise_equal(updates[name], after[name].numpy(), name)
print("input and weight observers after one step: bit-identical")
for name, value in updates.items():
    ref = after[name].numpy()
    if value.dtype.kind == "f":
        assert np.allclose(value, ref, rtol=1e-5, atol=1e-7), (name, value, ref)
    else:
        assert np.abs(value.astype(np.int64) - ref).max() <= 1, (name, value, ref)
print(f"all {len(updates)} updated buffers match PyTorch")
