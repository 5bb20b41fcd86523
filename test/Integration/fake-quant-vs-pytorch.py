# Fake quantization and its STE mask, compiled by qat-mlir and run through
# the JIT, against PyTorch 1.13's CPU kernels: bit for bit on f32.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: per-tensor ties: 7 cases bit-exact
# CHECK: per-tensor beyond range: 7 cases bit-exact
# CHECK: per-tensor zero-points: 9 cases bit-exact
# CHECK: multiply-by-inverse cases: {{[1-9][0-9]*}} values where dividing differs, bit-exact
# CHECK: per-axis: 6 cases bit-exact

import numpy as np
import torch

import qat_mlir
from qat_mlir.testing import assert_bitwise_equal

rng = np.random.default_rng(20261127)


def shape_text(shape):
    return "x".join(str(d) for d in shape) + "x" if shape else ""


def module_for(shape, storage, qmin, qmax, axis=None):
    """A module whose @main returns (fake_quant(x), fake_quant_mask(x))."""
    t = f"tensor<{shape_text(shape)}f32>"
    p = f"tensor<{shape[axis]}x" if axis is not None else "tensor<"
    axis_text = f" axis {axis}" if axis is not None else ""
    types = f"{t}, {p}f32>, {p}i32>"
    grid = f"to {storage}[{qmin} : {qmax}]{axis_text}"
    mask_t = f"tensor<{shape_text(shape)}i1>"
    return f"""
func.func @main(%x: {t}, %s: {p}f32>, %z: {p}i32>) -> ({t}, {mask_t}) {{
  %0 = qat.fake_quant %x, %s, %z {grid} : {types}
  %1 = qat.fake_quant_mask %x, %s, %z {grid} : {types}
  return %0, %1 : {t}, {mask_t}
}}
"""


def check_per_tensor(x, scale, zero_point, storage, qmin, qmax, what):
    x = np.asarray(x, np.float32)
    s = np.float32(scale)
    z = np.int32(zero_point)
    out, mask = qat_mlir.run(module_for(x.shape, storage, qmin, qmax), "main",
                             [x, np.array(s), np.array(z)])
    ref, ref_mask = torch.ops.aten.fake_quantize_per_tensor_affine_cachemask(
        torch.from_numpy(x), float(s), int(z), qmin, qmax)
    assert_bitwise_equal(out, ref.numpy(), what)
    assert_bitwise_equal(mask, ref_mask.numpy(), what + " (mask)")
    return out


def check_per_axis(x, scales, zero_points, axis, storage, qmin, qmax, what):
    x = np.asarray(x, np.float32)
    s = np.asarray(scales, np.float32)
    z = np.asarray(zero_points, np.int32)
    out, mask = qat_mlir.run(module_for(x.shape, storage, qmin, qmax, axis),
                             "main", [x, s, z])
    ref, ref_mask = torch.ops.aten.fake_quantize_per_channel_affine_cachemask(
        torch.from_numpy(x), torch.from_numpy(s), torch.from_numpy(z), axis,
        qmin, qmax)
    assert_bitwise_equal(out, ref.numpy(), what)
    assert_bitwise_equal(mask, ref_mask.numpy(), what + " (mask)")


# Ties at .5: round half to even, for exact (0.5) and inexact (0.1) scales,
# on every range kind.
ks = np.arange(-300, 300, dtype=np.float32) + np.float32(0.5)
cases = [
    (0.5, 0, "i8", -128, 127), (0.5, 3, "ui8", 0, 255),
    (0.1, 0, "i8", -128, 127), (0.1, 128, "ui8", 0, 255),
    (0.25, 0, "i8", -127, 127), (1.0, 7, "ui4", 0, 15),
    (0.5, -3, "si4", -8, 7),
]
for scale, zp, storage, qmin, qmax in cases:
    x = ks * np.float32(scale)
    check_per_tensor(x, scale, zp, storage, qmin, qmax,
                     f"ties s={scale} {storage}[{qmin},{qmax}]")
print(f"per-tensor ties: {len(cases)} cases bit-exact")

# Values beyond the range, huge values (|x / s| >= 2^63 goes to qmin in
# PyTorch), infinities and NaN.
special = np.array([1e3, -1e3, 1e10, -1e10, 1e20, -1e20, 1e30, -1e30,
                    3.4e38, -3.4e38, np.inf, -np.inf, np.nan, -0.0, 0.0,
                    127.5, 128.5, -128.5, 255.49, 255.5, 256.0],
                   dtype=np.float32)
cases = [(1.0, 0, "i8", -128, 127), (1.0, 0, "ui8", 0, 255),
         (0.02, 100, "ui8", 0, 255), (1e-3, -20, "i8", -128, 127),
         (3.0, 0, "i8", -127, 127), (1e-30, 0, "i8", -128, 127),
         (1e30, 1, "ui4", 0, 15)]
for scale, zp, storage, qmin, qmax in cases:
    check_per_tensor(special, scale, zp, storage, qmin, qmax,
                     f"special s={scale} zp={zp} {storage}")
print(f"per-tensor beyond range: {len(cases)} cases bit-exact")

# Negative and extreme zero-points on random data around the range.
x = (rng.standard_normal(4096) * 4).astype(np.float32)
cases = [(-128, "i8", -128, 127), (-5, "i8", -128, 127), (0, "i8", -128, 127),
         (77, "i8", -128, 127), (127, "i8", -128, 127), (0, "ui8", 0, 255),
         (255, "ui8", 0, 255), (-100, "i8", -127, 127), (-2, "si3", -4, 3)]
for zp, storage, qmin, qmax in cases:
    check_per_tensor(x, 0.037, zp, storage, qmin, qmax,
                     f"zero-point {zp} {storage}[{qmin},{qmax}]")
print(f"per-tensor zero-points: {len(cases)} cases bit-exact")

# Values where x / s and x * (1/s) round differently: PyTorch multiplies by
# the f32 inverse, and so must we. Search near ties for such values.
scale = np.float32(0.0123457)
inv = np.float32(1.0) / scale
k = np.arange(-127, 127, dtype=np.float32)
near = ((k + np.float32(0.5)) * scale).astype(np.float32)
candidates = np.concatenate([np.nextafter(near, np.float32(sign * np.inf)) if step else near
                             for sign in (-1, 1) for step in (0, 1)])
for _ in range(3):
    candidates = np.concatenate([candidates,
                                 np.nextafter(candidates, np.float32(np.inf)),
                                 np.nextafter(candidates, np.float32(-np.inf))])
candidates = np.unique(candidates.astype(np.float32))
by_division = np.round(candidates / scale)
by_inverse = np.round(candidates * inv)
differing = candidates[by_division != by_inverse]
assert differing.size > 0, "no value separates division from multiplication"
out = check_per_tensor(differing, scale, 0, "i8", -128, 127, "division cases")
divided = (np.clip(by_division[by_division != by_inverse], -128, 127)
           * scale).astype(np.float32)
assert not np.array_equal(out, divided), "test cannot tell the two apart"
print(f"multiply-by-inverse cases: {differing.size} values where dividing "
      f"differs, bit-exact")

# Per-axis on every axis of a 3-d tensor, signed and unsigned, with random
# per-channel scales and zero-points and values beyond the range.
shape = (4, 5, 6)
x = (rng.standard_normal(shape) * 3).astype(np.float32)
x.flat[::17] = np.float32(1e6)
cases = 0
for axis in range(3):
    n = shape[axis]
    scales = rng.uniform(0.005, 0.2, n).astype(np.float32)
    check_per_axis(x, scales, rng.integers(-128, 128, n), axis, "i8", -128, 127,
                   f"per-axis {axis} i8")
    check_per_axis(x, scales, rng.integers(0, 256, n), axis, "ui8", 0, 255,
                   f"per-axis {axis} ui8")
    cases += 2
print(f"per-axis: {cases} cases bit-exact")
