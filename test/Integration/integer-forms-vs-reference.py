# The integer forms that --qat-fold-quant (and --qat-target-exact) build
# for MobileNetV2's pieces, compiled and run, against references in Python
# integers and fractions: a residual addition (TFLite's form: both inputs
# rescaled to 2 * max(s_a, s_b) at 2^20 resolution, added, requantized), a
# depthwise convolution (grouped, stride 2, per-channel weights, bias,
# ReLU6) and global average pooling into a linear layer (sum pooling, the
# 1/n folded into the multiplier). f32 scale arithmetic is NumPy's float32,
# the same IEEE operations. Each also stays within one output step of the
# float fake-quant computation it replaces.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: residual add: 4096 outputs exact; {{[0-9]+}} differ from float fake quant by 1 step, none by more
# CHECK: depthwise conv: 512 outputs exact; {{[0-9]+}} differ from float fake quant by 1 step, none by more
# CHECK: average pool + linear: 80 outputs exact; {{[0-9]+}} differ from float fake quant by 1 step, none by more

from fractions import Fraction
import math

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261127)
f32 = np.float32


def requantize(acc, m, zero_point, lo, hi):
    """floor(acc * m + 1/2) + z, clamped; m is the f32 value, exactly."""
    m = Fraction(float(f32(m)))
    r = math.floor(Fraction(int(acc)) * m + Fraction(1, 2))
    return min(max(r + zero_point, lo), hi)


def codes_of(values, scale, zero_point):
    """The codes of dequantized values (exact multiples of the scale)."""
    return np.rint(values.astype(np.float64) / float(scale)).astype(np.int64) + zero_point


def on_grid(codes, scale, zero_point):
    return ((codes - zero_point).astype(f32) * f32(scale)).astype(f32)


def scalar(value, dtype):
    return np.array(value, dtype=dtype)


def run_both(source, function, inputs):
    """The float function and its --qat-fold-quant integer form."""
    folded = qat_mlir.opt(source, f"--qat-fold-quant=function={function}")
    assert "qat.fake_quant" not in folded.split(f"@{function}_int8")[1]
    return (qat_mlir.run(source, function, inputs)[0],
            qat_mlir.run(folded, f"{function}_int8", inputs)[0])


def report(name, got, expected, float_codes, lo, hi):
    assert np.array_equal(got, expected), \
        f"{name}: {np.count_nonzero(got != expected)} outputs differ from the reference"
    inside = np.mean((got > lo) & (got < hi))
    assert inside > 0.5, f"{name}: only {inside:.0%} of the outputs are not clamped"
    steps = np.abs(got - float_codes)
    assert steps.max() <= 1, f"{name}: {steps.max()} steps from float fake quant"
    print(f"{name}: {got.size} outputs exact; {np.count_nonzero(steps)} differ "
          f"from float fake quant by 1 step, none by more")


# --- Residual addition: u8 + i8 inputs, ReLU, u8 output. ----------------------
shape = (4, 16, 8, 8)
sa, za, sb, zb = f32(0.0473), 37, f32(0.0219), -5
sy, zy = f32(0.061), 11
qa = rng.integers(0, 256, shape)
qb = rng.integers(-128, 128, shape)
tensor = "tensor<" + "x".join(map(str, shape)) + "xf32>"
add_source = f"""
func.func @add(%a: {tensor}, %b: {tensor}, %sa: tensor<f32> {{qat.state = "sa"}}, %za: tensor<i32> {{qat.state = "za"}}, %sb: tensor<f32> {{qat.state = "sb"}}, %zb: tensor<i32> {{qat.state = "zb"}}, %sy: tensor<f32> {{qat.state = "sy"}}, %zy: tensor<i32> {{qat.state = "zy"}}) -> {tensor} {{
  %aq = qat.fake_quant %a, %sa, %za to ui8[0 : 255] : {tensor}, tensor<f32>, tensor<i32>
  %bq = qat.fake_quant %b, %sb, %zb to i8[-128 : 127] : {tensor}, tensor<f32>, tensor<i32>
  %sum = tosa.add %aq, %bq : ({tensor}, {tensor}) -> {tensor}
  %relu = tosa.clamp %sum {{min_val = 0.0 : f32, max_val = 0x7F800000 : f32}} : ({tensor}) -> {tensor}
  %yq = qat.fake_quant %relu, %sy, %zy to ui8[0 : 255] : {tensor}, tensor<f32>, tensor<i32>
  return %yq : {tensor}
}}
"""
float_y, int_y = run_both(add_source, "add", [
    on_grid(qa, sa, za), on_grid(qb, sb, zb), scalar(sa, f32), scalar(za, np.int32),
    scalar(sb, f32), scalar(zb, np.int32), scalar(sy, f32), scalar(zy, np.int32)])
common = f32(f32(max(sa, sb)) * f32(2))
inverse = f32(1) / common
ma, mb = f32(sa * inverse), f32(sb * inverse)
my = f32(f32(common * (f32(1) / sy)) * f32(2.0**-20))
expected = np.empty(shape, dtype=np.int64)
for index in np.ndindex(shape):
    ra = requantize((qa[index] - za) << 20, ma, 0, -2**31, 2**31 - 1)
    rb = requantize((qb[index] - zb) << 20, mb, 0, -2**31, 2**31 - 1)
    expected[index] = requantize(ra + rb, my, zy, zy, 255)  # ReLU: lo = code of 0.0
report("residual add", codes_of(int_y, sy, zy), expected, codes_of(float_y, sy, zy), zy, 255)

# --- Depthwise convolution: stride 2, padding 1, per-channel weights. -------
n, c, h, w = 2, 16, 7, 7
oh = ow = 4
sx, zx = f32(0.0312), 3
sw = np.exp(rng.uniform(np.log(0.004), np.log(0.03), c)).astype(f32)
sy, zy = f32(0.047), 0
qx = rng.integers(0, 256, (n, c, h, w))
qw = rng.integers(-127, 128, (c, 1, 3, 3)) // 8  # most outputs inside ReLU6
acc_scale = (sx * sw).astype(f32)
bias_codes = rng.integers(0, 8000, c)  # shifts most outputs above ReLU6's 0
bias = (bias_codes.astype(f32) * acc_scale).astype(f32)
dw_source = f"""
func.func @depthwise(%x: tensor<{n}x{c}x{h}x{w}xf32>, %w: tensor<{c}x1x3x3xf32> {{qat.state = "w"}}, %b: tensor<{c}xf32> {{qat.state = "b"}}, %sx: tensor<f32> {{qat.state = "sx"}}, %zx: tensor<i32> {{qat.state = "zx"}}, %sw: tensor<{c}xf32> {{qat.state = "sw"}}, %zw: tensor<{c}xi32> {{qat.state = "zw"}}, %sy: tensor<f32> {{qat.state = "sy"}}, %zy: tensor<i32> {{qat.state = "zy"}}) -> tensor<{n}x{c}x{oh}x{ow}xf32> {{
  %xq = qat.fake_quant %x, %sx, %zx to ui8[0 : 255] : tensor<{n}x{c}x{h}x{w}xf32>, tensor<f32>, tensor<i32>
  %zero = arith.constant 0.0 : f32
  %pad = tensor.pad %xq low[0, 0, 1, 1] high[0, 0, 1, 1] {{
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  }} : tensor<{n}x{c}x{h}x{w}xf32> to tensor<{n}x{c}x{h + 2}x{w + 2}xf32>
  %xg = tensor.expand_shape %pad [[0], [1, 2], [3], [4]] output_shape [{n}, {c}, 1, {h + 2}, {w + 2}] : tensor<{n}x{c}x{h + 2}x{w + 2}xf32> into tensor<{n}x{c}x1x{h + 2}x{w + 2}xf32>
  %wq = qat.fake_quant %w, %sw, %zw to i8[-127 : 127] axis 0 : tensor<{c}x1x3x3xf32>, tensor<{c}xf32>, tensor<{c}xi32>
  %wg = tensor.expand_shape %wq [[0, 1], [2], [3], [4]] output_shape [{c}, 1, 1, 3, 3] : tensor<{c}x1x3x3xf32> into tensor<{c}x1x1x3x3xf32>
  %init = tensor.empty() : tensor<{n}x{c}x1x{oh}x{ow}xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%init : tensor<{n}x{c}x1x{oh}x{ow}xf32>) -> tensor<{n}x{c}x1x{oh}x{ow}xf32>
  %conv = linalg.conv_2d_ngchw_gfchw {{dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}} ins(%xg, %wg : tensor<{n}x{c}x1x{h + 2}x{w + 2}xf32>, tensor<{c}x1x1x3x3xf32>) outs(%fill : tensor<{n}x{c}x1x{oh}x{ow}xf32>) -> tensor<{n}x{c}x1x{oh}x{ow}xf32>
  %out = tensor.collapse_shape %conv [[0], [1, 2], [3], [4]] : tensor<{n}x{c}x1x{oh}x{ow}xf32> into tensor<{n}x{c}x{oh}x{ow}xf32>
  %shape = tosa.const_shape {{values = dense<[1, {c}, 1, 1]> : tensor<4xindex>}} : () -> !tosa.shape<4>
  %bias = tosa.reshape %b, %shape : (tensor<{c}xf32>, !tosa.shape<4>) -> tensor<1x{c}x1x1xf32>
  %sum = tosa.add %out, %bias : (tensor<{n}x{c}x{oh}x{ow}xf32>, tensor<1x{c}x1x1xf32>) -> tensor<{n}x{c}x{oh}x{ow}xf32>
  %relu6 = tosa.clamp %sum {{min_val = 0.0 : f32, max_val = 6.0 : f32}} : (tensor<{n}x{c}x{oh}x{ow}xf32>) -> tensor<{n}x{c}x{oh}x{ow}xf32>
  %yq = qat.fake_quant %relu6, %sy, %zy to ui8[0 : 255] : tensor<{n}x{c}x{oh}x{ow}xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<{n}x{c}x{oh}x{ow}xf32>
}}
"""
weights = (qw.astype(f32) * sw[:, None, None, None]).astype(f32)
float_y, int_y = run_both(dw_source, "depthwise", [
    on_grid(qx, sx, zx), weights, bias, scalar(sx, f32), scalar(zx, np.int32), sw,
    np.zeros(c, np.int32), scalar(sy, f32), scalar(zy, np.int32)])
padded = np.pad(qx - zx, ((0, 0), (0, 0), (1, 1), (1, 1)))
multipliers = (acc_scale * (f32(1) / sy)).astype(f32)
hi = min(255, int(np.rint(f32(6) * (f32(1) / sy))) + zy)
expected = np.empty((n, c, oh, ow), dtype=np.int64)
for b_, ch, i, j in np.ndindex(expected.shape):
    window = padded[b_, ch, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
    acc = int((window * qw[ch, 0]).sum()) + int(bias_codes[ch])
    expected[b_, ch, i, j] = requantize(acc, multipliers[ch], zy, zy, hi)
report("depthwise conv", codes_of(int_y, sy, zy), expected, codes_of(float_y, sy, zy), zy, hi)

# --- Global average pooling (2x2) into a linear layer. ----------------------
n, c, k = 16, 24, 5
sx, zx = f32(0.0271), 128
sw, zw = f32(0.0093), 0
sy, zy = f32(0.0805), 120
qx = rng.integers(0, 256, (n, c, 2, 2))
qw = rng.integers(-128, 128, (k, c))
acc_scale = f32(f32(sx * f32(0.25)) * sw)
bias_codes = rng.integers(-20000, 20000, k)
bias = (bias_codes.astype(f32) * acc_scale).astype(f32)
pool_source = f"""
func.func @pool_linear(%x: tensor<{n}x{c}x2x2xf32>, %w: tensor<{k}x{c}xf32> {{qat.state = "w"}}, %b: tensor<{k}xf32> {{qat.state = "b"}}, %sx: tensor<f32> {{qat.state = "sx"}}, %zx: tensor<i32> {{qat.state = "zx"}}, %sw: tensor<f32> {{qat.state = "sw"}}, %zw: tensor<i32> {{qat.state = "zw"}}, %sy: tensor<f32> {{qat.state = "sy"}}, %zy: tensor<i32> {{qat.state = "zy"}}) -> tensor<{n}x{k}xf32> {{
  %xq = qat.fake_quant %x, %sx, %zx to ui8[0 : 255] : tensor<{n}x{c}x2x2xf32>, tensor<f32>, tensor<i32>
  %window = tensor.empty() : tensor<2x2xf32>
  %init = tensor.empty() : tensor<{n}x{c}x1x1xf32>
  %zero = arith.constant 0.0 : f32
  %fill = linalg.fill ins(%zero : f32) outs(%init : tensor<{n}x{c}x1x1xf32>) -> tensor<{n}x{c}x1x1xf32>
  %sum = linalg.pooling_nchw_sum {{dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}} ins(%xq, %window : tensor<{n}x{c}x2x2xf32>, tensor<2x2xf32>) outs(%fill : tensor<{n}x{c}x1x1xf32>) -> tensor<{n}x{c}x1x1xf32>
  %quarter = "tosa.const"() <{{values = dense<0.25> : tensor<1x1x1x1xf32>}}> : () -> tensor<1x1x1x1xf32>
  %shift = "tosa.const"() <{{values = dense<0> : tensor<1xi8>}}> : () -> tensor<1xi8>
  %mean = tosa.mul %sum, %quarter, %shift : (tensor<{n}x{c}x1x1xf32>, tensor<1x1x1x1xf32>, tensor<1xi8>) -> tensor<{n}x{c}x1x1xf32>
  %s3a = tosa.const_shape {{values = dense<[1, {n}, {c}]> : tensor<3xindex>}} : () -> !tosa.shape<3>
  %rows = tosa.reshape %mean, %s3a : (tensor<{n}x{c}x1x1xf32>, !tosa.shape<3>) -> tensor<1x{n}x{c}xf32>
  %wq = qat.fake_quant %w, %sw, %zw to i8[-128 : 127] : tensor<{k}x{c}xf32>, tensor<f32>, tensor<i32>
  %wt = tosa.transpose %wq {{perms = array<i32: 1, 0>}} : (tensor<{k}x{c}xf32>) -> tensor<{c}x{k}xf32>
  %s3b = tosa.const_shape {{values = dense<[1, {c}, {k}]> : tensor<3xindex>}} : () -> !tosa.shape<3>
  %wm = tosa.reshape %wt, %s3b : (tensor<{c}x{k}xf32>, !tosa.shape<3>) -> tensor<1x{c}x{k}xf32>
  %zp = "tosa.const"() <{{values = dense<0.0> : tensor<1xf32>}}> : () -> tensor<1xf32>
  %mm = tosa.matmul %rows, %wm, %zp, %zp : (tensor<1x{n}x{c}xf32>, tensor<1x{c}x{k}xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x{n}x{k}xf32>
  %s2 = tosa.const_shape {{values = dense<[{n}, {k}]> : tensor<2xindex>}} : () -> !tosa.shape<2>
  %out = tosa.reshape %mm, %s2 : (tensor<1x{n}x{k}xf32>, !tosa.shape<2>) -> tensor<{n}x{k}xf32>
  %s2b = tosa.const_shape {{values = dense<[1, {k}]> : tensor<2xindex>}} : () -> !tosa.shape<2>
  %bias = tosa.reshape %b, %s2b : (tensor<{k}xf32>, !tosa.shape<2>) -> tensor<1x{k}xf32>
  %logits = tosa.add %out, %bias : (tensor<{n}x{k}xf32>, tensor<1x{k}xf32>) -> tensor<{n}x{k}xf32>
  %yq = qat.fake_quant %logits, %sy, %zy to ui8[0 : 255] : tensor<{n}x{k}xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<{n}x{k}xf32>
}}
"""
float_y, int_y = run_both(pool_source, "pool_linear", [
    on_grid(qx, sx, zx), (qw.astype(f32) * sw).astype(f32), bias, scalar(sx, f32),
    scalar(zx, np.int32), scalar(sw, f32), scalar(zw, np.int32), scalar(sy, f32),
    scalar(zy, np.int32)])
sums = (qx - zx).sum(axis=(2, 3))  # n x c: the centered sums of each window
multiplier = f32(acc_scale * (f32(1) / sy))
expected = np.empty((n, k), dtype=np.int64)
for row, col in np.ndindex(expected.shape):
    acc = int((sums[row] * qw[col]).sum()) + int(bias_codes[col])
    expected[row, col] = requantize(acc, multiplier, zy, 0, 255)
report("average pool + linear", codes_of(int_y, sy, zy), expected, codes_of(float_y, sy, zy),
       0, 255)
