# f32 convolutions and their two gradients as --qat-conv-to-mmt4d computes
# them (im2col, linalg.pack, linalg.mmt4d on the FMA microkernel, unpack,
# col2im for the input gradient; packs and unpacks without padding read in
# place by --qat-fold-mmt4d-packs), against NumPy in f64. The gradients are
# written as --qat-generate-backward writes them: linalg.generic
# contractions over the convolution's loops, accumulating into the filter
# (weight gradient) or into the padded image (input gradient, scatter form).
# Shapes: the small CNN's and MobileNetV2's layers (1x1 images, 1x1 and 3x3
# filters, F and C*KH*KW not multiples of the 16 lanes, N*OH*OW not of the
# 8 rows), stride 2, dilation 2; the forward adds into a non-zero init (a
# bias). Every value must be within 1e-5 of the f64 result, relative to
# the largest magnitude of its tensor. The small CNN's layers also run on
# two threads (each op split along M1): the same bits as on one.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 11 convolutions x 3 roles: rewritten, within 1e-5 of f64

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261127)

MAPS = """
#image = affine_map<(n, f, oh, ow, c, kh, kw) -> (n, c, oh * {s} + kh * {d}, ow * {s} + kw * {d})>
#filter = affine_map<(n, f, oh, ow, c, kh, kw) -> (f, c, kh, kw)>
#output = affine_map<(n, f, oh, ow, c, kh, kw) -> (n, f, oh, ow)>
"""


def module(n, c, ih, iw, f, kh, kw, s, d):
    oh, ow = (ih - (kh - 1) * d - 1) // s + 1, (iw - (kw - 1) * d - 1) // s + 1
    image, filt, out = (f"tensor<{n}x{c}x{ih}x{iw}xf32>", f"tensor<{f}x{c}x{kh}x{kw}xf32>",
                        f"tensor<{n}x{f}x{oh}x{ow}xf32>")
    body = """{
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %p = arith.mulf %a, %b : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
    }"""
    source = MAPS.format(s=s, d=d) + f"""
func.func @forward(%x: {image}, %w: {filt}, %bias: {out}) -> {out} {{
  %y = linalg.conv_2d_nchw_fchw {{dilations = dense<{d}> : tensor<2xi64>, strides = dense<{s}> : tensor<2xi64>}} ins(%x, %w : {image}, {filt}) outs(%bias : {out}) -> {out}
  return %y : {out}
}}
func.func @weight_gradient(%x: {image}, %g: {out}) -> {filt} {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : {filt}
  %init = linalg.fill ins(%zero : f32) outs(%e : {filt}) -> {filt}
  %dw = linalg.generic {{indexing_maps = [#image, #output, #filter], iterator_types = ["reduction", "parallel", "reduction", "reduction", "parallel", "parallel", "parallel"]}} ins(%x, %g : {image}, {out}) outs(%init : {filt}) {body} -> {filt}
  return %dw : {filt}
}}
func.func @input_gradient(%g: {out}, %w: {filt}) -> {image} {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : {image}
  %init = linalg.fill ins(%zero : f32) outs(%e : {image}) -> {image}
  %dx = linalg.generic {{indexing_maps = [#output, #filter, #image], iterator_types = ["parallel", "reduction", "reduction", "reduction", "parallel", "reduction", "reduction"]}} ins(%g, %w : {out}, {filt}) outs(%init : {image}) {body} -> {image}
  return %dx : {image}
}}
"""
    return source, oh, ow


def windows(x, kh, kw, s, d, oh, ow):
    """x[n, c, oh*s + i*d, ow*s + j*d] for each (i, j)."""
    return {(i, j): x[:, :, i * d:i * d + s * (oh - 1) + 1:s, j * d:j * d + s * (ow - 1) + 1:s]
            for i in range(kh) for j in range(kw)}


def check(name, ours, exact):
    scale = max(np.abs(exact).max(), 1e-30)
    error = np.abs(ours.astype(np.float64) - exact).max() / scale
    assert error <= 1e-5, (name, error)


SHAPES = [  # n, c, ih, iw, f, kh, kw, stride, dilation
    (64, 1, 30, 30, 16, 3, 3, 1, 1),      # small CNN conv1 (padded input)
    (8, 16, 16, 16, 32, 3, 3, 1, 1),      # small CNN conv2
    (3, 3, 20, 20, 8, 3, 3, 2, 2),        # stride and dilation
    (2, 16, 28, 28, 8, 1, 1, 1, 1),       # MobileNetV2 1x1 projection
    (2, 16, 14, 14, 96, 1, 1, 1, 1),
    (2, 48, 4, 4, 288, 1, 1, 1, 1),
    (2, 288, 4, 4, 48, 1, 1, 1, 1),
    (2, 160, 2, 2, 1280, 1, 1, 1, 1),
    (2, 480, 2, 2, 80, 1, 1, 1, 1),
    (1, 5, 1, 1, 7, 1, 1, 1, 1),          # a single pixel, M = 1
    (5, 3, 9, 7, 20, 3, 2, 2, 1),         # odd everything
]

for n, c, ih, iw, f, kh, kw, s, d in SHAPES:
    source, oh, ow = module(n, c, ih, iw, f, kh, kw, s, d)
    lowered = qat_mlir.opt(source, "--qat-conv-to-mmt4d")
    assert lowered.count("linalg.mmt4d") == 3, "not every role was rewritten"
    x = rng.standard_normal((n, c, ih, iw)).astype(np.float32)
    w = rng.standard_normal((f, c, kh, kw)).astype(np.float32)
    g = rng.standard_normal((n, f, oh, ow)).astype(np.float32)
    bias = rng.standard_normal((n, f, oh, ow)).astype(np.float32)
    x64, w64, g64 = x.astype(np.float64), w.astype(np.float64), g.astype(np.float64)
    y = bias.astype(np.float64)
    dw = np.zeros_like(w64)
    dx = np.zeros_like(x64)
    for (i, j), window in windows(x64, kh, kw, s, d, oh, ow).items():
        y = y + np.einsum("nchw,fc->nfhw", window, w64[:, :, i, j])
        dw[:, :, i, j] = np.einsum("nchw,nfhw->fc", window, g64)
        dx[:, :, i * d:i * d + s * (oh - 1) + 1:s, j * d:j * d + s * (ow - 1) + 1:s] += \
            np.einsum("nfhw,fc->nchw", g64, w64[:, :, i, j])
    shape = (n, c, ih, iw, f, kh, kw, s, d)
    check((shape, "forward"), qat_mlir.run(source, "forward", [x, w, bias])[0], y)
    check((shape, "weight gradient"), qat_mlir.run(source, "weight_gradient", [x, g])[0], dw)
    check((shape, "input gradient"), qat_mlir.run(source, "input_gradient", [g, w])[0], dx)
    if shape in SHAPES[:2]:
        for entry, inputs in [("forward", [x, w, bias]), ("weight_gradient", [x, g]),
                              ("input_gradient", [g, w])]:
            one, two = (qat_mlir.run(source, entry, inputs, threads=t)[0] for t in (1, 2))
            assert np.array_equal(one, two), (shape, entry, "differs on two threads")

print(f"{len(SHAPES)} convolutions x 3 roles: rewritten, within 1e-5 of f64")
