# Depthwise convolutions as --qat-interchange-loops and
# --qat-vectorize-elementwise compile them, against NumPy's float32
# arithmetic, bit for bit: the forward convolution (ow innermost, the
# reductions over kh and kw outside the 16-lane chunks) and its input
# gradient, the scatter dx[oh + kh, ow + kw] += dy[oh, ow] * w[kh, kw] with
# ow moved innermost (each dx element sums its terms by oh, kh, kw). Output
# widths 8, 15, 16, 17 and 28 (rows at and around the vector width), 1 and
# 2 threads. With stride 2 the forward convolution reads its input as the
# even lanes of two vectors and the input gradient, a strided scatter, stays
# scalar; both must still be exact.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 5 widths x 2 strides x 1-2 threads: vectorized, bit-exact

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261127)
N, C, K = 4, 24, 3
DY = "affine_map<(n, g, f, oh, ow, c, kh, kw) -> (n, g, f, oh, ow)>"
W = "affine_map<(n, g, f, oh, ow, c, kh, kw) -> (g, f, c, kh, kw)>"


def module(ow, stride):
    iw = (ow - 1) * stride + K
    x = f"tensor<{N}x{C}x1x{iw}x{iw}xf32>"
    y = f"tensor<{N}x{C}x1x{ow}x{ow}xf32>"
    w = f"tensor<{C}x1x1x{K}x{K}xf32>"
    dx = (f"affine_map<(n, g, f, oh, ow, c, kh, kw) -> "
          f"(n, g, c, oh * {stride} + kh, ow * {stride} + kw)>")
    return f"""
func.func @forward(%x: {x}, %w: {w}) -> {y} {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : {y}
  %f = linalg.fill ins(%zero : f32) outs(%e : {y}) -> {y}
  %0 = linalg.conv_2d_ngchw_gfchw {{strides = dense<{stride}> : tensor<2xi64>,
                                   dilations = dense<1> : tensor<2xi64>}}
      ins(%x, %w : {x}, {w}) outs(%f : {y}) -> {y}
  return %0 : {y}
}}
func.func @input_gradient(%dy: {y}, %w: {w}) -> {x} {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : {x}
  %f = linalg.fill ins(%zero : f32) outs(%e : {x}) -> {x}
  %0 = linalg.generic {{indexing_maps = [{DY}, {W}, {dx}],
                        iterator_types = ["parallel", "parallel", "reduction", "reduction",
                                          "reduction", "parallel", "reduction", "reduction"]}}
      ins(%dy, %w : {y}, {w}) outs(%f : {x}) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  }} -> {x}
  return %0 : {x}
}}
"""


def forward(x, w, ow, stride):
    y = np.zeros((N, C, 1, ow, ow), np.float32)
    span = (ow - 1) * stride + 1
    for kh in range(K):  # the order of the reduction loops
        for kw in range(K):
            window = x[:, :, :, kh:kh + span:stride, kw:kw + span:stride]
            y = y + window * w[None, :, 0, 0, kh, kw, None, None, None]
    return y


def input_gradient(dy, w, ow, stride):
    """The scalar loop order: oh, kh, kw around ow for stride 1 (ow moved
    innermost); oh, ow, kh, kw for stride 2 (left as it was)."""
    iw = (ow - 1) * stride + K
    dx = np.zeros((N, C, 1, iw, iw), np.float32)
    w = w[None, :, 0, 0, :, :, None]  # 1 x C x kh x kw x 1
    if stride == 1:
        for oh in range(ow):
            for kh in range(K):
                for kw in range(K):
                    dx[:, :, 0, oh + kh, kw:kw + ow] += dy[:, :, 0, oh, :] * w[:, :, kh, kw]
        return dx
    for oh in range(ow):
        for o in range(ow):
            for kh in range(K):
                for kw in range(K):
                    dx[:, :, 0, oh * stride + kh, o * stride + kw] += (
                        dy[:, :, 0, oh, o] * w[:, :, kh, kw, 0])
    return dx


WIDTHS = [8, 15, 16, 17, 28]
for ow in WIDTHS:
    for stride in (1, 2):
        source = module(ow, stride)
        iw = (ow - 1) * stride + K
        for threads in (1, 2):
            lowered = qat_mlir.opt(source, f"--qat-lower-to-llvm=threads={threads}")
            # Rows are read under a mask where they have a tail; a stride-2
            # row's second vector always is (it stops at element 31).
            masked = "llvm.intr.masked.load" in lowered
            assert masked == (ow % 16 != 0 or stride == 2), (ow, stride, threads)
            # Stride 2 reads pairs of vectors (even lanes), not gathers.
            assert "llvm.intr.masked.gather" not in lowered, (ow, stride, threads)
            x = rng.standard_normal((N, C, 1, iw, iw)).astype(np.float32)
            w = rng.standard_normal((C, 1, 1, K, K)).astype(np.float32)
            dy = rng.standard_normal((N, C, 1, ow, ow)).astype(np.float32)
            (got,) = qat_mlir.run(source, "forward", [x, w], threads=threads)
            expected = forward(x, w, ow, stride)
            assert got.tobytes() == expected.tobytes(), (ow, stride, threads, "forward")
            (got,) = qat_mlir.run(source, "input_gradient", [dy, w], threads=threads)
            expected = input_gradient(dy, w, ow, stride)
            assert got.tobytes() == expected.tobytes(), (ow, stride, threads, "input gradient")
print(f"{len(WIDTHS)} widths x 2 strides x 1-2 threads: vectorized, bit-exact")
