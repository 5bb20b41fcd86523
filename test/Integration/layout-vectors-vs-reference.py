# Layout changes and merged rows as the pipeline compiles them, against
# NumPy, bit for bit, on 1 and 2 threads:
# - --qat-vectorize-transposes: NHWC -> NCHW with an accumulating body
#   (`out + in`, a GEMM result added into a gradient), packing transposes
#   of 8-row panels ([A, 8, K] -> [A, K, 8] and back) and tails on both
#   sides (extents 9, 17, 28, 144): each must leave in-register shuffles.
# - --qat-vectorize-elementwise's merged rows: a batch norm's affine step
#   on 7x7 and 14x14 maps with per-channel operands (rows of 49 and 196,
#   not 7 and 14).
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 6 transposes x 1-2 threads: in registers, bit-exact
# CHECK: 3 map sizes x 1-2 threads: merged rows, bit-exact

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261128)


def transpose_module(shape, perm, accumulate):
    out_shape = [shape[p] for p in perm]
    x = "tensor<" + "x".join(map(str, shape)) + "xf32>"
    y = "tensor<" + "x".join(map(str, out_shape)) + "xf32>"
    dims = ", ".join(f"d{i}" for i in range(len(shape)))
    # The output is indexed by the loops in order; the input reads dimension
    # k of the output from loop perm^-1... expressed with the input's map.
    inverse = [perm.index(i) for i in range(len(shape))]
    in_map = ", ".join(f"d{inverse[i]}" for i in range(len(shape)))
    body = ("%s = arith.addf %out, %in : f32\n    linalg.yield %s : f32"
            if accumulate else "linalg.yield %in : f32")
    return f"""
func.func @f(%x: {x}, %acc: {y}) -> {y} {{
  %r = linalg.generic {{indexing_maps = [affine_map<({dims}) -> ({in_map})>,
                                        affine_map<({dims}) -> ({dims})>],
                       iterator_types = [{", ".join(['"parallel"'] * len(shape))}]}}
      ins(%x : {x}) outs(%acc : {y}) {{
  ^bb0(%in: f32, %out: f32):
    {body}
  }} -> {y}
  return %r : {y}
}}
"""


TRANSPOSES = [
    ((4, 28, 28, 16), (0, 3, 1, 2), True),   # NHWC -> NCHW, accumulated
    ((6, 14, 14, 32), (0, 3, 1, 2), False),  # rows of 14 + ...: 16-wide tiles
    ((12, 8, 144, 1), (0, 2, 1, 3), False),  # im2col rows -> 8-row panels
    ((12, 144, 8, 1), (0, 2, 1, 3), False),  # and back
    ((2, 100, 8, 1), (0, 2, 1, 3), True),    # 8-lane rows, a tail of 4 tiles
    ((3, 17, 9), (0, 2, 1), False),          # tails on both sides
]
for shape, perm, accumulate in TRANSPOSES:
    source = transpose_module(shape, perm, accumulate)
    for threads in (1, 2):
        lowered = qat_mlir.opt(source, f"--qat-lower-to-llvm=threads={threads}")
        assert "llvm.shufflevector" in lowered, (shape, threads, "not transposed in registers")
        x = rng.standard_normal(shape).astype(np.float32)
        acc = rng.standard_normal([shape[p] for p in perm]).astype(np.float32)
        expected = np.transpose(x, perm) + acc if accumulate else np.transpose(x, perm)
        (got,) = qat_mlir.run(source, "f", [x, acc], threads=threads)
        assert got.tobytes() == expected.astype(np.float32).tobytes(), (shape, threads)
print(f"{len(TRANSPOSES)} transposes x 1-2 threads: in registers, bit-exact")


def affine_module(n, c, hw):
    x = f"tensor<{n}x{c}x{hw}x{hw}xf32>"
    p = f"tensor<1x{c}x1x1xf32>"
    return f"""
#id = affine_map<(n, c, h, w) -> (n, c, h, w)>
#channel = affine_map<(n, c, h, w) -> (0, c, 0, 0)>
func.func @f(%x: {x}, %scale: {p}, %shift: {p}) -> {x} {{
  %e = tensor.empty() : {x}
  %r = linalg.generic {{indexing_maps = [#id, #channel, #channel, #id],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}}
      ins(%x, %scale, %shift : {x}, {p}, {p}) outs(%e : {x}) {{
  ^bb0(%a: f32, %s: f32, %t: f32, %out: f32):
    %0 = arith.mulf %a, %s : f32
    %1 = arith.addf %0, %t : f32
    %zero = arith.constant 0.0 : f32
    %2 = arith.maximumf %1, %zero : f32
    linalg.yield %2 : f32
  }} -> {x}
  return %r : {x}
}}
"""


MAPS = [(8, 16, 7), (8, 32, 14), (4, 16, 28)]
for n, c, hw in MAPS:
    source = affine_module(n, c, hw)
    for threads in (1, 2):
        lowered = qat_mlir.opt(source, f"--qat-lower-to-llvm=threads={threads}")
        # One row of hw * hw per channel: a masked tail only where that is
        # not a multiple of 16 (49, 196), never for 28 * 28 = 784.
        assert ("llvm.intr.masked.load" in lowered) == (hw * hw % 16 != 0), (hw, threads)
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        s = rng.standard_normal((1, c, 1, 1)).astype(np.float32)
        t = rng.standard_normal((1, c, 1, 1)).astype(np.float32)
        expected = np.maximum(x * s + t, np.float32(0)).astype(np.float32)
        (got,) = qat_mlir.run(source, "f", [x, s, t], threads=threads)
        assert got.tobytes() == expected.tobytes(), (hw, threads, np.abs(got - expected).max())
print(f"{len(MAPS)} map sizes x 1-2 threads: merged rows, bit-exact")
