# Elementwise ops as --qat-vectorize-elementwise compiles them (16-lane
# chunks, a masked tail, per-channel and 0-d operands broadcast), against
# NumPy's float32 arithmetic, bit for bit: fake quantization with a
# per-channel scale and an i32 zero-point, a ReLU-style select and a
# multiply-add, on row lengths around the vector width (8, 15, 16, 17, 28,
# 40, 784) and on a row split across threads. Every result must be
# vectorized (no linalg.generic left) and identical to the reference.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 7 row lengths x 1-2 threads: vectorized, bit-exact

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261127)
N, C = 128, 64  # 8192 rows: at 8 per row, 64K elements, enough to split over threads


def module(w):
    x = f"tensor<{N}x{C}x{w}xf32>"
    return f"""
#id = affine_map<(n, c, w) -> (n, c, w)>
#channel = affine_map<(n, c, w) -> (c)>
#scalar = affine_map<(n, c, w) -> ()>
func.func @f(%x: {x}, %g: {x}, %s: tensor<{C}xf32>, %z: tensor<i32>) -> ({x}, {x}) {{
  %e = tensor.empty() : {x}
  %q, %r = linalg.generic {{indexing_maps = [#id, #id, #channel, #scalar, #id, #id],
                            iterator_types = ["parallel", "parallel", "parallel"]}}
      ins(%x, %g, %s, %z : {x}, {x}, tensor<{C}xf32>, tensor<i32>) outs(%e, %e : {x}, {x}) {{
  ^bb0(%a: f32, %b: f32, %scale: f32, %zero: i32, %o1: f32, %o2: f32):
    %lo = arith.constant 0.0 : f32
    %hi = arith.constant 255.0 : f32
    %zf = arith.sitofp %zero : i32 to f32
    %0 = arith.divf %a, %scale : f32
    %1 = math.roundeven %0 : f32
    %2 = arith.addf %1, %zf : f32
    %3 = arith.maximumf %2, %lo : f32
    %4 = arith.minimumf %3, %hi : f32
    %5 = arith.subf %4, %zf : f32
    %6 = arith.mulf %5, %scale : f32
    %pos = arith.cmpf ogt, %a, %lo : f32
    %7 = arith.mulf %a, %b : f32
    %8 = arith.addf %7, %scale : f32
    %9 = arith.select %pos, %8, %b : f32
    linalg.yield %6, %9 : f32, f32
  }} -> ({x}, {x})
  return %q, %r : {x}, {x}
}}
"""


def reference(x, g, s, z):
    scale = s[None, :, None]
    zf = np.float32(z)
    q = np.minimum(np.maximum(np.round(x / scale) + zf, np.float32(0)), np.float32(255))
    q = (q - zf) * scale
    r = np.where(x > 0, x * g + scale, g)
    return q.astype(np.float32), r.astype(np.float32)


WIDTHS = [8, 15, 16, 17, 28, 40, 784]
for w in WIDTHS:
    source = module(w)
    for threads in (1, 2):
        lowered = qat_mlir.opt(source, f"--qat-lower-to-llvm=threads={threads}")
        assert "vector<16xf32>" in lowered, (w, threads, "not vectorized")
        assert ("llvm.intr.masked.load" in lowered) == (w % 16 != 0), (w, threads, "tail")
        if threads > 1:
            assert "omp.parallel" in lowered or "__kmpc_fork_call" in lowered, (w, "not threaded")
        x = (rng.standard_normal((N, C, w)) * 4).astype(np.float32)
        g = rng.standard_normal((N, C, w)).astype(np.float32)
        s = (rng.random(C) * 0.1 + 0.01).astype(np.float32)
        z = np.array(rng.integers(0, 255), dtype=np.int32)
        expected = reference(x, g, s, z)
        got = qat_mlir.run(source, "f", [x, g, s, z], threads=threads)
        for name, a, b in zip(("fake quant", "select"), got, expected):
            assert a.tobytes() == b.tobytes(), (w, threads, name, np.abs(a - b).max())
print(f"{len(WIDTHS)} row lengths x 1-2 threads: vectorized, bit-exact")
