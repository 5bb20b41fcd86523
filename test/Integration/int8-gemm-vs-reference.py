# int8 matrix products in the data-tiled form (linalg.pack -> linalg.mmt4d
# -> linalg.unpack), compiled with the generic lowering and with the
# AVX512-VNNI microkernel (--qat-lower-to-llvm int8-isa=avx512vnni), against
# NumPy's exact integer product: equal element for element, for the shapes
# of the small CNN's layers as matrix products, odd sizes (K not a multiple
# of 4, M not of 8, N not of 16), tiny and large ones, and the extreme
# values -128 and 127 everywhere (the i32 sums of the worst case).
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 9 shapes x 2 lowerings: all products exact
# CHECK: extremes: exact

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261127)


def gemm_module(m, k, n):
    ceil = lambda a, b: -(-a // b)
    m1, k1, n1 = ceil(m, 8), ceil(k, 4), ceil(n, 16)
    return f"""
func.func @gemm(%a: tensor<{m}x{k}xi8>, %b: tensor<{k}x{n}xi8>) -> tensor<{m}x{n}xi32> {{
  %z8 = arith.constant 0 : i8
  %ea = tensor.empty() : tensor<{m1}x{k1}x8x4xi8>
  %pa = linalg.pack %a padding_value(%z8 : i8) inner_dims_pos = [0, 1] inner_tiles = [8, 4] into %ea : tensor<{m}x{k}xi8> -> tensor<{m1}x{k1}x8x4xi8>
  %eb = tensor.empty() : tensor<{n1}x{k1}x16x4xi8>
  %pb = linalg.pack %b padding_value(%z8 : i8) outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [16, 4] into %eb : tensor<{k}x{n}xi8> -> tensor<{n1}x{k1}x16x4xi8>
  %z32 = arith.constant 0 : i32
  %ec = tensor.empty() : tensor<{m1}x{n1}x8x16xi32>
  %c = linalg.fill ins(%z32 : i32) outs(%ec : tensor<{m1}x{n1}x8x16xi32>) -> tensor<{m1}x{n1}x8x16xi32>
  %r = linalg.mmt4d ins(%pa, %pb : tensor<{m1}x{k1}x8x4xi8>, tensor<{n1}x{k1}x16x4xi8>) outs(%c : tensor<{m1}x{n1}x8x16xi32>) -> tensor<{m1}x{n1}x8x16xi32>
  %eo = tensor.empty() : tensor<{m}x{n}xi32>
  %o = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [8, 16] into %eo : tensor<{m1}x{n1}x8x16xi32> -> tensor<{m}x{n}xi32>
  return %o : tensor<{m}x{n}xi32>
}}
"""


def run(source, a, b, isa):
    import os
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gemm.mlir")
        open(path, "w").write(source)
        np.save(os.path.join(tmp, "a.npy"), a)
        np.save(os.path.join(tmp, "b.npy"), b)
        command = [qat_mlir.find_tool("qat-run"), path, "--entry", "gemm",
                   "--input", os.path.join(tmp, "a.npy"), "--input", os.path.join(tmp, "b.npy"),
                   "-o", os.path.join(tmp, "c.npy")]
        if isa:
            command.append(f"--int8-isa={isa}")
        subprocess.run(command, check=True)
        return np.load(os.path.join(tmp, "c.npy"))


shapes = [
    (1, 1, 1), (3, 5, 7), (17, 33, 19), (8, 4, 16),  # tiny, odd, exact tiles
    (50, 1568, 10),      # the small CNN's linear layer
    (392, 144, 32),      # its second convolution (2 images) as im2col x weights
    (784, 9, 16),        # its first convolution (1 image)
    (256, 512, 320), (100, 1023, 47),  # large, K = 1023
]
for m, k, n in shapes:
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    want = a.astype(np.int64) @ b.astype(np.int64)
    source = gemm_module(m, k, n)
    for isa in (None, "avx512vnni"):
        got = run(source, a, b, isa)
        assert np.array_equal(got.astype(np.int64), want), (m, k, n, isa)
print(f"{len(shapes)} shapes x 2 lowerings: all products exact")

for value_a, value_b in ((-128, -128), (-128, 127), (127, 127)):
    m, k, n = 9, 1024, 17
    a = np.full((m, k), value_a, np.int8)
    b = np.full((k, n), value_b, np.int8)
    want = a.astype(np.int64) @ b.astype(np.int64)
    got = run(gemm_module(m, k, n), a, b, "avx512vnni")
    assert np.array_equal(got.astype(np.int64), want), (value_a, value_b)
print("extremes: exact")
