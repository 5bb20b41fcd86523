"""Writes the GEMMs of the int8 GEMM benchmark for one microkernel.

    generate.py OUT_DIR ISA

OUT_DIR gets gemm.mlir (for each shape: @gemm_i8_<n>, A (M x K, i8,
activations) packed per call into the microkernel's LHS tiles, B packed
beforehand into its RHS tiles as qat-compile packs weights; for avx2 also
@gemm_i8p_<n>, the same on the vpmaddubsw kernel that qat-compile uses
where it proves that no pair saturates (the product marked so); and
@gemm_f32_<n>, the same product in f32 on the FMA microkernel's 8 x 1 and
16 x 1 tiles, as training's convolutions run) and shapes.inc (the table the
C++ harness registers its benchmarks from). The tiles are those of
include/qat/Dialect/Qat/Transforms/Int8Microkernels.h.
"""

import os
import sys

# isa: (LHS rows M0, depth K0, lanes N0, LHS bits)
TILES = {"avx512vnni": (8, 4, 16, 8), "avxvnni": (8, 4, 8, 8), "avx2": (6, 2, 8, 16)}
# The isa's faster kernel for products proven not to saturate
# (qat.pairs_proven_unsaturated): avx2's vpmaddubsw.
PROVEN_TILES = {"avx2": (4, 4, 8, 8)}
FLOAT_TILES = (8, 1, 16)

# (name, M, K, N): the square GEMM and layers as GEMMs (im2col rows x
# C*KH*KW x output channels), batch 1 for MobileNetV2-224, 50 for the
# small CNN (the batch of the demo's programs).
SHAPES = [
    ("square 1024^3", 1024, 1024, 1024),
    ("small CNN conv1 (batch 50)", 50 * 28 * 28, 9, 16),
    ("small CNN conv2 (batch 50)", 50 * 14 * 14, 144, 32),
    ("small CNN fc (batch 50)", 50, 1568, 10),
    ("MobileNetV2 stem 3x3 s2", 112 * 112, 27, 32),
    ("MobileNetV2 1x1 expand 24->144", 56 * 56, 24, 144),
    ("MobileNetV2 1x1 project 144->24", 56 * 56, 144, 24),
    ("MobileNetV2 1x1 expand 64->384", 14 * 14, 64, 384),
    ("MobileNetV2 1x1 project 960->160", 7 * 7, 960, 160),
    ("MobileNetV2 1x1 last 320->1280", 7 * 7, 320, 1280),
]


def ceil(a, b):
    return -(-a // b)


def int8_gemm(index, m, k, n, isa, proven=False):
    rows, depth, lanes, bits = (PROVEN_TILES if proven else TILES)[isa]
    name = f"gemm_i8p_{index}" if proven else f"gemm_i8_{index}"
    attr = "{qat.pairs_proven_unsaturated} " if proven else ""
    m1, k1, n1 = ceil(m, rows), ceil(k, depth), ceil(n, lanes)
    lhs, widen = "%a", ""
    if bits == 16:
        widen = f"%a16 = arith.extsi %a : tensor<{m}x{k}xi8> to tensor<{m}x{k}xi16>"
        lhs = "%a16"
    return f"""
func.func @{name}(%a: tensor<{m}x{k}xi8>, %bp: tensor<{n1}x{k1}x{lanes}x{depth}xi8>) -> tensor<{m}x{n}xi32> attributes {{llvm.emit_c_interface}} {{
  {widen}
  %za = arith.constant 0 : i{bits}
  %ea = tensor.empty() : tensor<{m1}x{k1}x{rows}x{depth}xi{bits}>
  %pa = linalg.pack {lhs} padding_value(%za : i{bits}) inner_dims_pos = [0, 1] inner_tiles = [{rows}, {depth}] into %ea : tensor<{m}x{k}xi{bits}> -> tensor<{m1}x{k1}x{rows}x{depth}xi{bits}>
  %z32 = arith.constant 0 : i32
  %ec = tensor.empty() : tensor<{m1}x{n1}x{rows}x{lanes}xi32>
  %c = linalg.fill ins(%z32 : i32) outs(%ec : tensor<{m1}x{n1}x{rows}x{lanes}xi32>) -> tensor<{m1}x{n1}x{rows}x{lanes}xi32>
  %r = linalg.mmt4d {attr}ins(%pa, %bp : tensor<{m1}x{k1}x{rows}x{depth}xi{bits}>, tensor<{n1}x{k1}x{lanes}x{depth}xi8>) outs(%c : tensor<{m1}x{n1}x{rows}x{lanes}xi32>) -> tensor<{m1}x{n1}x{rows}x{lanes}xi32>
  %eo = tensor.empty() : tensor<{m}x{n}xi32>
  %o = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [{rows}, {lanes}] into %eo : tensor<{m1}x{n1}x{rows}x{lanes}xi32> -> tensor<{m}x{n}xi32>
  return %o : tensor<{m}x{n}xi32>
}}
"""


def f32_gemm(index, m, k, n):
    rows, depth, lanes = FLOAT_TILES
    m1, k1, n1 = ceil(m, rows), ceil(k, depth), ceil(n, lanes)
    return f"""
func.func @gemm_f32_{index}(%a: tensor<{m}x{k}xf32>, %bp: tensor<{n1}x{k1}x{lanes}x{depth}xf32>) -> tensor<{m}x{n}xf32> attributes {{llvm.emit_c_interface}} {{
  %z = arith.constant 0.0 : f32
  %ea = tensor.empty() : tensor<{m1}x{k1}x{rows}x{depth}xf32>
  %pa = linalg.pack %a padding_value(%z : f32) inner_dims_pos = [0, 1] inner_tiles = [{rows}, {depth}] into %ea : tensor<{m}x{k}xf32> -> tensor<{m1}x{k1}x{rows}x{depth}xf32>
  %ec = tensor.empty() : tensor<{m1}x{n1}x{rows}x{lanes}xf32>
  %c = linalg.fill ins(%z : f32) outs(%ec : tensor<{m1}x{n1}x{rows}x{lanes}xf32>) -> tensor<{m1}x{n1}x{rows}x{lanes}xf32>
  %r = linalg.mmt4d ins(%pa, %bp : tensor<{m1}x{k1}x{rows}x{depth}xf32>, tensor<{n1}x{k1}x{lanes}x{depth}xf32>) outs(%c : tensor<{m1}x{n1}x{rows}x{lanes}xf32>) -> tensor<{m1}x{n1}x{rows}x{lanes}xf32>
  %eo = tensor.empty() : tensor<{m}x{n}xf32>
  %o = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [{rows}, {lanes}] into %eo : tensor<{m1}x{n1}x{rows}x{lanes}xf32> -> tensor<{m}x{n}xf32>
  return %o : tensor<{m}x{n}xf32>
}}
"""


def main():
    out, isa = sys.argv[1], sys.argv[2]
    if isa not in TILES:
        sys.exit(f"generate.py: no x86 int8 microkernel '{isa}' ({', '.join(TILES)})")
    rows, depth, lanes, _ = TILES[isa]
    with open(os.path.join(out, "gemm.mlir"), "w") as f:
        for index, (_, m, k, n) in enumerate(SHAPES):
            f.write(int8_gemm(index, m, k, n, isa))
            if isa in PROVEN_TILES:
                f.write(int8_gemm(index, m, k, n, isa, proven=True))
            f.write(f32_gemm(index, m, k, n))
    with open(os.path.join(out, "shapes.inc"), "w") as f:
        f.write(f"// Generated by benchmarks/int8-gemm/generate.py for {isa}.\n")
        f.write(f"#define QAT_INT8_ISA \"{isa}\"\n")
        f.write(f"#define QAT_INT8_TILES {{{rows}, {depth}, {lanes}}}\n")
        if isa in PROVEN_TILES:
            rows, depth, lanes, _ = PROVEN_TILES[isa]
            f.write(f"#define QAT_PROVEN_TILES {{{rows}, {depth}, {lanes}}}\n")
        for index, (name, m, k, n) in enumerate(SHAPES):
            f.write(f"QAT_SHAPE({index}, \"{name} {m}x{k}x{n}\", {m}, {k}, {n})\n")


if __name__ == "__main__":
    main()
