# f32 convolutions and their two gradients on rows of vectors
# (--qat-lower-direct-conv: no im2col), as the training pipeline runs them,
# against NumPy in f64. Each function accumulates into a non-zero initial
# value (the forward's bias; the gradients' init arguments), as the
# gradients are written by --qat-generate-backward: linalg.generic
# contractions over the convolution's loops, accumulating into the filter
# (weight gradient) or into the padded image (input gradient, scatter
# form). Shapes: the small CNN's two convolutions, output rows of 12 to
# 16 lanes (one vector) and of 24 to 30 (two),
# channel and filter counts that leave partial register blocks, 2x2, 3x1
# and 1x3 windows, images taller than wide. Every value must be within
# 1e-5 of the f64 result, relative to the largest magnitude of its tensor,
# and two threads (each op split over images or filters) must give the
# same bits as one.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 9 convolutions x 3 roles: direct, within 1e-5 of f64, the same bits on 2 threads

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261202)

MAPS = """
#image = affine_map<(n, f, oh, ow, c, kh, kw) -> (n, c, oh + kh, ow + kw)>
#filter = affine_map<(n, f, oh, ow, c, kh, kw) -> (f, c, kh, kw)>
#output = affine_map<(n, f, oh, ow, c, kh, kw) -> (n, f, oh, ow)>
"""
BODY = """{
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %p = arith.mulf %a, %b : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
    }"""


def module(n, c, ih, iw, f, kh, kw):
    oh, ow = ih - kh + 1, iw - kw + 1
    image, filt, out = (f"tensor<{n}x{c}x{ih}x{iw}xf32>", f"tensor<{f}x{c}x{kh}x{kw}xf32>",
                        f"tensor<{n}x{f}x{oh}x{ow}xf32>")
    source = MAPS + f"""
func.func @forward(%x: {image}, %w: {filt}, %bias: {out}) -> {out} {{
  %y = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}} ins(%x, %w : {image}, {filt}) outs(%bias : {out}) -> {out}
  return %y : {out}
}}
func.func @weight_gradient(%x: {image}, %g: {out}, %init: {filt}) -> {filt} {{
  %dw = linalg.generic {{indexing_maps = [#image, #output, #filter], iterator_types = ["reduction", "parallel", "reduction", "reduction", "parallel", "parallel", "parallel"]}} ins(%x, %g : {image}, {out}) outs(%init : {filt}) {BODY} -> {filt}
  return %dw : {filt}
}}
func.func @input_gradient(%g: {out}, %w: {filt}, %init: {image}) -> {image} {{
  %dx = linalg.generic {{indexing_maps = [#output, #filter, #image], iterator_types = ["parallel", "reduction", "reduction", "reduction", "parallel", "reduction", "reduction"]}} ins(%g, %w : {out}, {filt}) outs(%init : {image}) {BODY} -> {image}
  return %dx : {image}
}}
"""
    return source, oh, ow


def check(name, ours, exact):
    scale = max(np.abs(exact).max(), 1e-30)
    error = np.abs(ours.astype(np.float64) - exact).max() / scale
    assert error <= 1e-5, (name, error)


SHAPES = [  # n, c, ih, iw, f, kh, kw
    (8, 16, 16, 16, 32, 3, 3),   # small CNN conv2 (padded input): 14-lane output rows
    (3, 17, 14, 14, 20, 3, 3),   # 12-lane rows; 16 + 1 channels, 16 + 4 filters
    (2, 5, 16, 13, 3, 2, 2),     # 2x2 window, an odd filter after the pair
    (2, 3, 18, 16, 7, 3, 1),     # 3x1 window: full 16-lane output rows
    (3, 4, 12, 16, 5, 1, 3),     # 1x3 window
    (4, 8, 9, 15, 6, 3, 3),      # taller than wide output (7 x 13)
    (3, 1, 30, 30, 16, 3, 3),    # small CNN conv1: rows of two vectors (16 + 12 lanes)
    (2, 3, 20, 26, 5, 3, 3),     # 24-lane rows, 3 channels, 5 filters
    (2, 9, 6, 32, 3, 2, 3),      # 30-lane rows, image rows of two full vectors
]

for n, c, ih, iw, f, kh, kw in SHAPES:
    source, oh, ow = module(n, c, ih, iw, f, kh, kw)
    left = qat_mlir.opt(source, "--qat-conv-to-mmt4d=leave-direct")
    assert "linalg.mmt4d" not in left and left.count("linalg.generic") == 2, \
        "not every role was left for --qat-lower-direct-conv"
    x = rng.standard_normal((n, c, ih, iw)).astype(np.float32)
    w = rng.standard_normal((f, c, kh, kw)).astype(np.float32)
    g = rng.standard_normal((n, f, oh, ow)).astype(np.float32)
    bias = rng.standard_normal((n, f, oh, ow)).astype(np.float32)
    dw0 = rng.standard_normal((f, c, kh, kw)).astype(np.float32)
    dx0 = rng.standard_normal((n, c, ih, iw)).astype(np.float32)
    x64, w64, g64 = x.astype(np.float64), w.astype(np.float64), g.astype(np.float64)
    y, dw, dx = bias.astype(np.float64), dw0.astype(np.float64), dx0.astype(np.float64)
    for i in range(kh):
        for j in range(kw):
            window = x64[:, :, i:i + oh, j:j + ow]
            y = y + np.einsum("nchw,fc->nfhw", window, w64[:, :, i, j])
            dw[:, :, i, j] += np.einsum("nchw,nfhw->fc", window, g64)
            dx[:, :, i:i + oh, j:j + ow] += np.einsum("nfhw,fc->nchw", g64, w64[:, :, i, j])
    shape = (n, c, ih, iw, f, kh, kw)
    for entry, inputs, exact in [("forward", [x, w, bias], y),
                                 ("weight_gradient", [x, g, dw0], dw),
                                 ("input_gradient", [g, w, dx0], dx)]:
        one, two = (qat_mlir.run(source, entry, inputs, threads=t)[0] for t in (1, 2))
        check((shape, entry), one, exact)
        assert np.array_equal(one, two), (shape, entry, "differs on two threads")

print(f"{len(SHAPES)} convolutions x 3 roles: direct, within 1e-5 of f64, "
      "the same bits on 2 threads")
