# int8 matrix products in the data-tiled form (linalg.pack -> linalg.mmt4d
# -> linalg.unpack), compiled with the generic lowering and with each
# microkernel of --qat-lower-mmt4d (--qat-lower-to-llvm int8-isa=...):
# avx512vnni (16-lane tiles) and avxvnni (8-lane tiles; here it runs as the
# EVEX ymm vpdpbusd of AVX512-VNNI) through the JIT, dotprod (4-lane tiles,
# sdot) cross-compiled for AArch64 and run under qemu-aarch64 -cpu max, against
# NumPy's exact integer product: equal element for element, for the shapes
# of the small CNN's layers as matrix products, odd sizes (K not a multiple
# of 4, M not of 8, N not of 16), tiny and large ones, and the extreme
# values -128 and 127 everywhere (the i32 sums of the worst case).
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 9 shapes x 3 x86 lowerings: all products exact
# CHECK: 9 shapes, AArch64 sdot under qemu: all products exact
# CHECK: extremes: exact

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261127)


LANES = {None: 16, "avx512vnni": 16, "avxvnni": 8, "dotprod": 4}


def gemm_module(m, k, n, lanes=16):
    ceil = lambda a, b: -(-a // b)
    m1, k1, n1 = ceil(m, 8), ceil(k, 4), ceil(n, lanes)
    return f"""
func.func @gemm(%a: tensor<{m}x{k}xi8>, %b: tensor<{k}x{n}xi8>) -> tensor<{m}x{n}xi32> attributes {{llvm.emit_c_interface}} {{
  %z8 = arith.constant 0 : i8
  %ea = tensor.empty() : tensor<{m1}x{k1}x8x4xi8>
  %pa = linalg.pack %a padding_value(%z8 : i8) inner_dims_pos = [0, 1] inner_tiles = [8, 4] into %ea : tensor<{m}x{k}xi8> -> tensor<{m1}x{k1}x8x4xi8>
  %eb = tensor.empty() : tensor<{n1}x{k1}x{lanes}x4xi8>
  %pb = linalg.pack %b padding_value(%z8 : i8) outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [{lanes}, 4] into %eb : tensor<{k}x{n}xi8> -> tensor<{n1}x{k1}x{lanes}x4xi8>
  %z32 = arith.constant 0 : i32
  %ec = tensor.empty() : tensor<{m1}x{n1}x8x{lanes}xi32>
  %c = linalg.fill ins(%z32 : i32) outs(%ec : tensor<{m1}x{n1}x8x{lanes}xi32>) -> tensor<{m1}x{n1}x8x{lanes}xi32>
  %r = linalg.mmt4d ins(%pa, %pb : tensor<{m1}x{k1}x8x4xi8>, tensor<{n1}x{k1}x{lanes}x4xi8>) outs(%c : tensor<{m1}x{n1}x8x{lanes}xi32>) -> tensor<{m1}x{n1}x8x{lanes}xi32>
  %eo = tensor.empty() : tensor<{m}x{n}xi32>
  %o = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [8, {lanes}] into %eo : tensor<{m1}x{n1}x8x{lanes}xi32> -> tensor<{m}x{n}xi32>
  return %o : tensor<{m}x{n}xi32>
}}
"""


def run(source, a, b, isa):
    return qat_mlir.run(source, "gemm", [a, b], int8_isa=isa)[0]


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
    for isa in (None, "avx512vnni", "avxvnni"):
        got = run(gemm_module(m, k, n, LANES[isa]), a, b, isa)
        assert np.array_equal(got.astype(np.int64), want), (m, k, n, isa)
print(f"{len(shapes)} shapes x 3 x86 lowerings: all products exact")

HARNESS = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
typedef struct { int8_t *al, *ad; int64_t off, sz[2], st[2]; } A;
typedef struct { int32_t *al, *ad; int64_t off, sz[2], st[2]; } C;
void _mlir_ciface_gemm(A *, A *, C *);
static void *load(const char *p, size_t n) {
  void *d = malloc(n); FILE *f = fopen(p, "rb");
  if (!f || fread(d, 1, n, f) != n) exit(2);
  fclose(f); return d;
}
int main(int argc, char **argv) {
  int64_t m = atol(argv[1]), k = atol(argv[2]), n = atol(argv[3]);
  A a = {0}, b = {0}; C c = {0};
  a.al = a.ad = load(argv[4], m * k); a.sz[0] = m; a.sz[1] = k; a.st[0] = k; a.st[1] = 1;
  b.al = b.ad = load(argv[5], k * n); b.sz[0] = k; b.sz[1] = n; b.st[0] = n; b.st[1] = 1;
  c.al = c.ad = malloc(m * n * 4); c.sz[0] = m; c.sz[1] = n; c.st[0] = n; c.st[1] = 1;
  _mlir_ciface_gemm(&a, &b, &c);
  FILE *f = fopen(argv[6], "wb");
  fwrite(c.ad, 4, m * n, f); fclose(f);
  return 0;
}
"""


def run_aarch64(source, a, b):
    import os
    import subprocess
    import tempfile
    m, k = a.shape
    n = b.shape[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = lambda name: os.path.join(tmp, name)
        open(path("gemm.mlir"), "w").write(source)
        open(path("harness.c"), "w").write(HARNESS)
        lowered = subprocess.run([qat_mlir.find_tool("qat-opt"), path("gemm.mlir"),
                                  "--qat-lower-to-llvm=int8-isa=dotprod"],
                                 check=True, capture_output=True, text=True).stdout
        subprocess.run(["mlir-translate", "--mlir-to-llvmir", "-o", path("gemm.ll")],
                       input=lowered, check=True, text=True)
        subprocess.run(["clang-22", "--target=aarch64-linux-gnu", "-march=armv8.2-a+dotprod",
                        "-fuse-ld=lld", "-static", "-O2", "-Wno-override-module",
                        path("harness.c"), path("gemm.ll"), "-o", path("gemm")], check=True)
        a.tofile(path("a.bin"))
        b.tofile(path("b.bin"))
        subprocess.run(["qemu-aarch64-static", "-cpu", "max", path("gemm"), str(m), str(k), str(n),
                        path("a.bin"), path("b.bin"), path("c.bin")], check=True)
        return np.fromfile(path("c.bin"), dtype=np.int32).reshape(m, n)


for m, k, n in shapes:
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    want = a.astype(np.int64) @ b.astype(np.int64)
    got = run_aarch64(gemm_module(m, k, n, LANES["dotprod"]), a, b)
    assert np.array_equal(got.astype(np.int64), want), (m, k, n, "dotprod")
print(f"{len(shapes)} shapes, AArch64 sdot under qemu: all products exact")

for value_a, value_b in ((-128, -128), (-128, 127), (127, 127)):
    m, k, n = 9, 1024, 17
    a = np.full((m, k), value_a, np.int8)
    b = np.full((k, n), value_b, np.int8)
    want = a.astype(np.int64) @ b.astype(np.int64)
    got = run(gemm_module(m, k, n), a, b, "avx512vnni")
    assert np.array_equal(got.astype(np.int64), want), (value_a, value_b)
print("extremes: exact")
