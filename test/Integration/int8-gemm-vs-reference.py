# int8 matrix products in the data-tiled form (linalg.pack -> linalg.mmt4d
# -> linalg.unpack), compiled with the generic lowering and with each
# microkernel of --qat-lower-mmt4d (--qat-lower-to-llvm int8-isa=...) that
# this CPU runs, through the JIT: avx512vnni (16-lane tiles of bytes),
# avxvnni (8-lane tiles; an AVX512-VNNI CPU runs it as the EVEX ymm
# vpdpbusd) and avx2 (vpmaddwd: 6 x 2 tiles of 16-bit LHS values, 8-lane RHS
# tiles of bytes); dotprod (4-lane tiles, sdot) cross-compiled for AArch64
# and run under qemu-aarch64 -cpu max. Each against NumPy's exact integer
# product: equal element for element, for the shapes of the small CNN's
# layers as matrix products, odd sizes (K not a multiple of 4, M not of 8,
# N not of 16), tiny and large ones, and the extreme values -128 and 127
# everywhere (the i32 sums of the worst case). AVX2's vpmaddubsw kernel, used
# only on products proven not to saturate, is exact on such operands (the
# unsigned a + 128 at most 127 with any B, or any A with |B| <= 64), and
# wrong on a product that does saturate: the proof is needed. A microkernel
# this CPU lacks
# is refused by qat-run with one line (checked), and its code is checked in
# assembly by test/Codegen/CPU/qat-lower-mmt4d.mlir.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 9 shapes, generic loops: all products exact
# CHECK: 9 shapes, avx2 (vpmaddwd): {{all products exact|refused: this CPU lacks it}}
# CHECK: 9 shapes, avxvnni (vpdpbusd ymm): {{all products exact|refused: this CPU lacks it}}
# CHECK: 9 shapes, avx512vnni (vpdpbusd zmm): {{all products exact|refused: this CPU lacks it}}
# CHECK: 9 shapes, AArch64 sdot under qemu: all products exact
# CHECK: extremes on every microkernel this CPU runs: exact
# CHECK: 9 shapes, avx2 vpmaddubsw on proven products: {{all products exact \(7-bit LHS; 8-bit LHS with \|B\| <= 64\)|refused: this CPU lacks it}}
# CHECK: avx2 vpmaddubsw on an unproven product: {{4 of 4 sums wrong \(saturated\), as the proof predicts|refused: this CPU lacks it}}

import numpy as np

import qat_mlir
from qat_mlir.testing import int8_gemm_module

rng = np.random.default_rng(20261127)

def gemm_module(m, k, n, isa=None):
    return int8_gemm_module("gemm", m, k, n, isa)


def run(source, a, b, isa):
    # "" asks qat-run for the generic loops (its default is the host's best).
    isa = "avx2" if isa == "avx2-pairs" else isa
    return qat_mlir.run(source, "gemm", [a, b], int8_isa=isa or "")[0]


def refused(isa):
    """Whether qat-run refuses `isa` on this CPU (one line, no LLVM error)."""
    try:
        run(gemm_module(1, 1, 1, isa), np.zeros((1, 1), np.int8), np.zeros((1, 1), np.int8), isa)
        return False
    except qat_mlir.QatToolError as error:
        message = str(error)
        assert message.count("\n") == 0 and "needs CPU features this CPU lacks" in message \
            and "LLVM ERROR" not in message, message
        return True


shapes = [
    (1, 1, 1), (3, 5, 7), (17, 33, 19), (8, 4, 16),  # tiny, odd, exact tiles
    (50, 1568, 10),      # the small CNN's linear layer
    (392, 144, 32),      # its second convolution (2 images) as im2col x weights
    (784, 9, 16),        # its first convolution (1 image)
    (256, 512, 320), (100, 1023, 47),  # large, K = 1023
]
NAMES = {None: "generic loops", "avx2": "avx2 (vpmaddwd)", "avxvnni": "avxvnni (vpdpbusd ymm)",
         "avx512vnni": "avx512vnni (vpdpbusd zmm)"}
ran = []
for isa in (None, "avx2", "avxvnni", "avx512vnni"):
    if isa and refused(isa):
        print(f"{len(shapes)} shapes, {NAMES[isa]}: refused: this CPU lacks it")
        continue
    for m, k, n in shapes:
        a = rng.integers(-128, 128, (m, k)).astype(np.int8)
        b = rng.integers(-128, 128, (k, n)).astype(np.int8)
        want = a.astype(np.int64) @ b.astype(np.int64)
        got = run(gemm_module(m, k, n, isa), a, b, isa)
        assert np.array_equal(got.astype(np.int64), want), (m, k, n, isa)
    ran.append(isa)
    print(f"{len(shapes)} shapes, {NAMES[isa]}: all products exact")

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
    got = run_aarch64(gemm_module(m, k, n, "dotprod"), a, b)
    assert np.array_equal(got.astype(np.int64), want), (m, k, n, "dotprod")
print(f"{len(shapes)} shapes, AArch64 sdot under qemu: all products exact")

for isa in ran:
    for value_a, value_b in ((-128, -128), (-128, 127), (127, 127)):
        m, k, n = 9, 1024, 17
        a = np.full((m, k), value_a, np.int8)
        b = np.full((k, n), value_b, np.int8)
        want = a.astype(np.int64) @ b.astype(np.int64)
        got = run(gemm_module(m, k, n, isa), a, b, isa)
        assert np.array_equal(got.astype(np.int64), want), (value_a, value_b, isa)
print("extremes on every microkernel this CPU runs: exact")

if "avx2" in ran:
    for m, k, n in shapes:
        for a, b in ((rng.integers(-128, 0, (m, k)), rng.integers(-128, 128, (k, n))),
                     (rng.integers(-128, 128, (m, k)), rng.integers(-64, 65, (k, n)))):
            a, b = a.astype(np.int8), b.astype(np.int8)
            want = a.astype(np.int64) @ b.astype(np.int64)
            got = run(gemm_module(m, k, n, "avx2-pairs"), a, b, "avx2-pairs")
            assert np.array_equal(got.astype(np.int64), want), (m, k, n, "avx2-pairs")
    print(f"{len(shapes)} shapes, avx2 vpmaddubsw on proven products: all products exact "
          "(7-bit LHS; 8-bit LHS with |B| <= 64)")
    # a + 128 = 255 times the pair (127, 127): 64770 saturates to 32767.
    a = np.full((2, 4), 127, np.int8)
    b = np.full((4, 2), 127, np.int8)
    got = run(gemm_module(2, 4, 2, "avx2-pairs"), a, b, "avx2-pairs")
    wrong = int((got.astype(np.int64) != a.astype(np.int64) @ b.astype(np.int64)).sum())
    print(f"avx2 vpmaddubsw on an unproven product: {wrong} of 4 sums wrong (saturated), "
          "as the proof predicts")
else:
    print(f"{len(shapes)} shapes, avx2 vpmaddubsw on proven products: refused: this CPU lacks it")
    print("avx2 vpmaddubsw on an unproven product: refused: this CPU lacks it")
