# int8 convolutions as qat-compile generates them: the integer program's
# `conv(pad(codes) - z, W)` rewritten by --qat-int8-conv-to-mmt4d (codes
# shifted to int8, im2col, weights packed at compile time, linalg.mmt4d,
# the zero-point restored by a constant per channel) and run on each
# microkernel this CPU runs (AVX512-VNNI's 16 lanes, the 8-lane avxvnni one
# (on an AVX512-VNNI CPU as EVEX ymm vpdpbusd), AVX2's vpmaddwd on 16-bit
# codes, or its vpmaddubsw kernel on layers whose weights are proven not to
# saturate it: 7-bit codes, small weights), and with the generic lowering
# without the rewrite, against
# NumPy's exact convolution of the centered codes: equal element for
# element. Shapes: the small CNN's and TinyMobileNet's layers, strides,
# C*KH*KW not a multiple of 4, F not a multiple of the lanes, 1x1 images,
# uint8 grids with zero-points 0, 128 and 255 and an int8 grid, and the
# extreme codes everywhere.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 12 convolutions, generic loops: all outputs exact
# CHECK: 12 convolutions, avx2: {{all outputs exact \([3-9] on vpmaddubsw, proven\)|this CPU lacks it}}
# CHECK: 12 convolutions, avxvnni: {{all outputs exact|this CPU lacks it}}
# CHECK: 12 convolutions, avx512vnni: {{all outputs exact|this CPU lacks it}}
# CHECK: extremes on every microkernel this CPU runs: exact

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261127)


def conv_module(n, c, h, w, weights, stride, pad, zero_point, grid):
    """`codes -> pad with z -> - z -> conv with constant i8 weights`, the
    integer program's form; the codes come from qat.quantize on `grid`."""
    f, _, kh, kw = weights.shape
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    ph, pw = h + 2 * pad, w + 2 * pad
    storage, lo, hi = grid
    values = str(weights.astype(int).tolist())
    return f"""
func.func @conv(%x: tensor<{n}x{c}x{h}x{w}xf32>) -> tensor<{n}x{f}x{oh}x{ow}xi32> {{
  %s = arith.constant dense<1.0> : tensor<f32>
  %z = arith.constant dense<{zero_point}> : tensor<i32>
  %q = qat.quantize %x, %s, %z to {storage}[{lo} : {hi}] : tensor<{n}x{c}x{h}x{w}xf32>, tensor<f32>, tensor<i32> -> tensor<{n}x{c}x{h}x{w}xi32>
  %zs = arith.constant {zero_point} : i32
  %p = tensor.pad %q low[0, 0, {pad}, {pad}] high[0, 0, {pad}, {pad}] {{
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zs : i32
  }} : tensor<{n}x{c}x{h}x{w}xi32> to tensor<{n}x{c}x{ph}x{pw}xi32>
  %zt = arith.constant dense<{zero_point}> : tensor<1x1x1x1xi32>
  %centered = tosa.sub %p, %zt : (tensor<{n}x{c}x{ph}x{pw}xi32>, tensor<1x1x1x1xi32>) -> tensor<{n}x{c}x{ph}x{pw}xi32>
  %w8 = arith.constant dense<{values}> : tensor<{f}x{c}x{kh}x{kw}xi8>
  %w = arith.extsi %w8 : tensor<{f}x{c}x{kh}x{kw}xi8> to tensor<{f}x{c}x{kh}x{kw}xi32>
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<{n}x{f}x{oh}x{ow}xi32>
  %init = linalg.fill ins(%zero : i32) outs(%e : tensor<{n}x{f}x{oh}x{ow}xi32>) -> tensor<{n}x{f}x{oh}x{ow}xi32>
  %y = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : tensor<2xi64>, strides = dense<{stride}> : tensor<2xi64>}} ins(%centered, %w : tensor<{n}x{c}x{ph}x{pw}xi32>, tensor<{f}x{c}x{kh}x{kw}xi32>) outs(%init : tensor<{n}x{f}x{oh}x{ow}xi32>) -> tensor<{n}x{f}x{oh}x{ow}xi32>
  return %y : tensor<{n}x{f}x{oh}x{ow}xi32>
}}
"""


def reference(codes, weights, stride, pad, zero_point):
    x = np.pad(codes.astype(np.int64) - zero_point, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    f, c, kh, kw = weights.shape
    n, _, ph, pw = x.shape
    oh, ow = (ph - kh) // stride + 1, (pw - kw) // stride + 1
    out = np.zeros((n, f, oh, ow), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            out += np.einsum("nchw,fc->nfhw", window, weights[:, :, i, j].astype(np.int64))
    return out


def run(source, codes, zero_point, isa):
    """The module on the float input whose codes (scale 1) are `codes`."""
    if isa:
        source = qat_mlir.opt(source, f"--qat-int8-conv-to-mmt4d=isa={isa}")
        assert "linalg.mmt4d" in source, "the convolution was not rewritten"
    x = (codes - zero_point).astype(np.float32)
    return qat_mlir.run(source, "conv", [x], int8_isa=isa or "")[0]


def runs_here(isa):
    """Whether qat-run takes `isa` on this CPU."""
    try:
        qat_mlir.run("func.func @f(%x: tensor<1xf32>) -> tensor<1xf32> { return %x : tensor<1xf32> }",
                     "f", [np.zeros(1, np.float32)], int8_isa=isa)
        return True
    except qat_mlir.QatToolError as error:
        assert "needs CPU features this CPU lacks" in str(error), error
        return False


U8 = ("ui8", 0, 255)
U7 = ("ui8", 0, 127)
I8 = ("i8", -128, 127)
# (n, c, h, w, f, kh, kw, stride, pad, zero_point, grid)
cases = [
    (2, 1, 28, 28, 16, 3, 3, 1, 1, 73, U8),   # the small CNN's first convolution
    (2, 16, 14, 14, 32, 3, 3, 1, 1, 0, U8),   # its second
    (2, 8, 7, 7, 48, 1, 1, 1, 0, 128, U8),    # a MobileNet expansion (1x1)
    (3, 3, 9, 11, 5, 3, 3, 2, 1, 255, U8),    # stride 2, K = 27, F = 5
    (1, 7, 5, 5, 17, 5, 5, 1, 2, 10, U8),     # K = 175, F = 17
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 3, U8),       # 1x1 image, one channel
    (4, 32, 1, 1, 10, 1, 1, 1, 0, 128, U8),   # pooled features into a 1x1 conv
    (2, 6, 8, 8, 9, 3, 3, 1, 1, -3, I8),      # an int8 activation grid
    (1, 24, 4, 4, 40, 3, 3, 2, 1, 0, I8),
    (2, 16, 14, 14, 32, 3, 3, 1, 1, 0, U7),   # 7-bit codes: vpmaddubsw on avx2
    (2, 7, 9, 9, 24, 3, 3, 1, 1, 100, U7),
]
# Weights small enough that no pair saturates vpmaddubsw even on 8-bit codes.
small_weight_cases = [(2, 16, 14, 14, 32, 3, 3, 1, 1, 17, U8)]
def provable(weights, grid):
    """Whether no weight pair (consecutive along C*KH*KW, zero-padded) can
    saturate vpmaddubsw for the unsigned operand codes - o + 128 (o = 128 on
    an unsigned grid, 0 on a signed one): the rule qat-compile applies,
    restated here."""
    offset = 128 if grid[1] >= 0 else 0
    u_min, u_max = grid[1] - offset + 128, grid[2] - offset + 128
    flat = weights.reshape(weights.shape[0], -1).astype(np.int64)
    if flat.shape[1] % 2:
        flat = np.pad(flat, ((0, 0), (0, 1)))
    w0, w1 = flat[:, 0::2], flat[:, 1::2]
    extreme = lambda w, high: w * np.where((w >= 0) == high, u_max, u_min)
    return bool(((extreme(w0, True) + extreme(w1, True)) <= 32767).all() and
                ((extreme(w0, False) + extreme(w1, False)) >= -32768).all())


weights_of = {}
inputs = []
for index, (n, c, h, w, f, kh, kw, stride, pad, zp, grid) in enumerate(cases + small_weight_cases):
    codes = rng.integers(grid[1], grid[2] + 1, (n, c, h, w))
    limit = 64 if index >= len(cases) else 128
    weights = rng.integers(-limit, limit, (f, c, kh, kw))
    inputs.append((codes, zp, reference(codes, weights, stride, pad, zp),
                   conv_module(n, c, h, w, weights, stride, pad, zp, grid)))
    weights_of[id(inputs[-1][3])] = weights
ran = []
for isa in (None, "avx2", "avxvnni", "avx512vnni"):
    name = isa or "generic loops"
    if isa and not runs_here(isa):
        print(f"{len(cases) + len(small_weight_cases)} convolutions, {name}: this CPU lacks it")
        continue
    proven = 0
    for (codes, zp, want, source), case in zip(inputs, cases + small_weight_cases):
        got = run(source, codes, zp, isa)
        assert np.array_equal(got.astype(np.int64), want), (case, isa)
        if isa == "avx2":
            rewritten = qat_mlir.opt(source, "--qat-int8-conv-to-mmt4d=isa=avx2")
            proven += "qat.pairs_proven_unsaturated" in rewritten
            assert ("qat.pairs_proven_unsaturated" in rewritten) == provable(weights_of[id(source)], case[-1]), case
    ran.append(isa)
    extra = f" ({proven} on vpmaddubsw, proven)" if isa == "avx2" else ""
    print(f"{len(cases) + len(small_weight_cases)} convolutions, {name}: all outputs exact{extra}")

# The worst case of the i32 sums: codes at the grid's far end from the
# zero-point, weights -128.
codes = np.full((1, 64, 6, 6), 255)
weights = np.full((16, 64, 3, 3), -128)
source = conv_module(1, 64, 6, 6, weights, 1, 1, 0, U8)
for isa in ran:
    got = run(source, codes, 0, isa)
    assert np.array_equal(got.astype(np.int64), reference(codes, weights, 1, 1, 0)), isa
print("extremes on every microkernel this CPU runs: exact")
