# qat.requantize, qat.quantize and qat.dequantize compiled by qat-mlir
# against exact references in Python integers and fractions: the
# fixed-point rescale is round(acc * multiplier) with ties towards +inf,
# computed exactly from the f32 multiplier; quantize/dequantize equal
# qat.fake_quant's two halves bit for bit.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: requantize: {{[0-9]+}} accumulators x 40 multipliers exact
# CHECK: requantize per channel: exact, clamps to [min, max]
# CHECK: requantize ties: {{[0-9]+}} half-way cases round towards +inf
# CHECK: quantize + dequantize == fake_quant: {{[0-9]+}} values bit-exact
# CHECK: i32 grid: bounds moved inside, no overflow

from fractions import Fraction
import math

import numpy as np
import torch

import qat_mlir
from qat_mlir.testing import assert_bitwise_equal

rng = np.random.default_rng(20261127)


def exact_requantize(acc, multiplier, zero_point, lo, hi):
    """floor(acc * m + 1/2) + z, clamped; m the f32 value exactly."""
    m = Fraction(float(np.float32(multiplier)))
    r = math.floor(Fraction(int(acc)) * m + Fraction(1, 2))
    return min(max(r + zero_point, lo), hi)


def run_requantize(acc, multipliers, zero_point, lo, hi, axis=None):
    n = acc.shape
    shape = "x".join(map(str, n))
    m_type = f"tensor<{multipliers.shape[0]}xf32>" if axis is not None else "tensor<f32>"
    axis_text = f" axis {axis}" if axis is not None else ""
    source = f"""
func.func @main(%a: tensor<{shape}xi32>, %m: {m_type}, %z: tensor<i32>, %lo: tensor<i32>, %hi: tensor<i32>) -> tensor<{shape}xi32> {{
  %0 = qat.requantize %a, %m, %z, %lo, %hi{axis_text} : tensor<{shape}xi32>, {m_type}
  return %0 : tensor<{shape}xi32>
}}
"""
    scalar = lambda v: np.array(v, dtype=np.int32)
    return qat_mlir.run(source, "main", [acc, multipliers, scalar(zero_point),
                                         scalar(lo), scalar(hi)])[0]


# Accumulators: the i32 extremes, small values, random magnitudes.
accs = np.concatenate([
    np.array([0, 1, -1, 2**31 - 1, -2**31, 2**30, -2**30, 12345, -12345], dtype=np.int64),
    rng.integers(-2**31, 2**31, 200),
    rng.integers(-70000, 70000, 200),
]).astype(np.int32)
# Multipliers: typical layer ratios, powers of two, tiny (shift clamped to
# 62), subnormal, and just below 2^23 (shift 1).
multipliers = np.concatenate([
    np.exp(rng.uniform(np.log(1e-5), np.log(1.0), 24)),
    [0.5, 0.25, 2.0**-20, 2.0**-31, 2.0**-40, 3.0e-12, 1e-30, 1e-40, 1e-45,
     2.0**22, 8388607.0, 1.0, 1.5, 0.999999940, 0.75, 0.1],
]).astype(np.float32)
assert len(multipliers) == 40
lo, hi = -2**31, 2**31 - 1
# One compilation: the multipliers along axis 1, every accumulator in each.
grid = np.repeat(accs[:, None], len(multipliers), axis=1)
got = run_requantize(grid, multipliers, 0, lo, hi, axis=1)
for j, m in enumerate(multipliers):
    want = np.array([exact_requantize(a, m, 0, lo, hi) for a in accs], dtype=np.int64)
    assert np.array_equal(got[:, j].astype(np.int64), want), (m, got[:8, j], want[:8])
# And per tensor.
got = run_requantize(accs, np.array(multipliers[0]), 0, lo, hi)
want = np.array([exact_requantize(a, multipliers[0], 0, lo, hi) for a in accs])
assert np.array_equal(got.astype(np.int64), want)
print(f"requantize: {len(accs)} accumulators x {len(multipliers)} multipliers exact")

# Per channel (axis 1), with an output grid and a ReLU-like lower bound.
acc2 = rng.integers(-200000, 200000, (6, 5)).astype(np.int32)
ms = np.exp(rng.uniform(np.log(1e-4), np.log(1e-2), 5)).astype(np.float32)
got = run_requantize(acc2, ms, 37, 37, 255, axis=1)
want = np.array([[exact_requantize(acc2[i, j], ms[j], 37, 37, 255) for j in range(5)]
                 for i in range(6)])
assert np.array_equal(got, want), (got, want)
assert got.min() >= 37 and got.max() <= 255
print("requantize per channel: exact, clamps to [min, max]")

# Ties: acc * m exactly half-way (m = 2^-k), both signs.
ties = np.array([1, 3, 5, -1, -3, -5, 7, -7], dtype=np.int64)
ks = (1, 2, 3)
tie_accs = np.stack([ties * 2**(k - 1) for k in ks], axis=1).astype(np.int32)
tie_ms = np.array([2.0**-k for k in ks], dtype=np.float32)
got = run_requantize(tie_accs, tie_ms, 0, lo, hi, axis=1)
want = np.floor(tie_accs.astype(np.float64) * tie_ms.astype(np.float64) + 0.5)
assert np.array_equal(got, want.astype(np.int64)), (got, want)
print(f"requantize ties: {3 * len(ties)} half-way cases round towards +inf")

# quantize then dequantize is fake_quant, bit for bit, per tensor and axis.
x = np.concatenate([rng.normal(0, 3, 500), [np.inf, -np.inf, np.nan, 1e30, -1e30, 0.0, -0.0]]).astype(np.float32)
for storage, qmin, qmax, zp in (("ui8", 0, 255, 73), ("i8", -128, 127, -9)):
    s = np.float32(0.037)
    source = f"""
func.func @main(%x: tensor<{len(x)}xf32>, %s: tensor<f32>, %z: tensor<i32>) -> (tensor<{len(x)}xf32>, tensor<{len(x)}xf32>, tensor<{len(x)}xi32>) {{
  %q = qat.quantize %x, %s, %z to {storage}[{qmin} : {qmax}] : tensor<{len(x)}xf32>, tensor<f32>, tensor<i32> -> tensor<{len(x)}xi32>
  %d = qat.dequantize %q, %s, %z : tensor<{len(x)}xi32>, tensor<f32>, tensor<i32> -> tensor<{len(x)}xf32>
  %f = qat.fake_quant %x, %s, %z to {storage}[{qmin} : {qmax}] : tensor<{len(x)}xf32>, tensor<f32>, tensor<i32>
  return %d, %f, %q : tensor<{len(x)}xf32>, tensor<{len(x)}xf32>, tensor<{len(x)}xi32>
}}
"""
    d, f, q = qat_mlir.run(source, "main", [x, np.array(s), np.array(zp, dtype=np.int32)])
    assert_bitwise_equal(d, f, f"dequantize(quantize) vs fake_quant ({storage})")
    want = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), float(s), zp, qmin, qmax).numpy()
    assert_bitwise_equal(d, want, "vs PyTorch")
    assert q.min() >= qmin and q.max() <= qmax
print(f"quantize + dequantize == fake_quant: {2 * len(x)} values bit-exact")

# The i32 grid (biases): huge values clamp to the largest f32 inside it.
big = np.array([3e9, -3e9, 2147483520.0, -2147483648.0, 1e38, np.inf], dtype=np.float32)
source = """
func.func @main(%x: tensor<6xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<6xi32> {
  %q = qat.quantize %x, %s, %z to i32[-2147483648 : 2147483647] : tensor<6xf32>, tensor<f32>, tensor<i32> -> tensor<6xi32>
  return %q : tensor<6xi32>
}
"""
q = qat_mlir.run(source, "main", [big, np.array(1.0, dtype=np.float32), np.array(0, dtype=np.int32)])[0]
# 1e38 and inf are >= 2^63: quant_min, as in qat.fake_quant (PyTorch's rule).
assert list(q) == [2147483520, -2147483648, 2147483520, -2147483648, -2147483648, -2147483648], q
print("i32 grid: bounds moved inside, no overflow")
