"""Helpers that compare qat-mlir results with reference values."""

import numpy as np

from qat_mlir.tools import run


def assert_bitwise_equal(actual, expected, what):
    """Fail unless `actual` and `expected` have the same dtype, shape and bits.

    Floats are compared by their bit patterns, so -0.0 differs from 0.0 and
    NaNs compare equal only to NaNs with the same payload.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        raise AssertionError(
            f"{what}: got {actual.dtype}{list(actual.shape)}, "
            f"expected {expected.dtype}{list(expected.shape)}")
    if actual.dtype.kind == "f":
        bits = np.dtype(f"u{actual.dtype.itemsize}")
        same = actual.view(bits) == expected.view(bits)
    else:
        same = actual == expected
    if not same.all():
        where = np.argwhere(~same)
        first = tuple(where[0])
        raise AssertionError(
            f"{what}: {len(where)} of {actual.size} elements differ; first at "
            f"{first}: got {actual[first]!r}, expected {expected[first]!r}")


def choose_qparams(scheme, storage, qmin, qmax, mins, maxs, rule=None):
    """(scale, zero_point) of qat.choose_qparams on 1-d f32 ranges, compiled
    and run; `rule` is None (observer) or "fake_quant_kernel"."""
    t = f"tensor<{mins.size}xf32>"
    using = f" using {rule}" if rule else ""
    source = f"""
func.func @main(%min: {t}, %max: {t}) -> ({t}, tensor<{mins.size}xi32>) {{
  %s, %z = qat.choose_qparams {scheme} %min, %max to {storage}[{qmin} : {qmax}]{using} : {t}
  return %s, %z : {t}, tensor<{mins.size}xi32>
}}
"""
    return run(source, "main", [mins, maxs])


# The int8 GEMM tiles of each --qat-lower-mmt4d microkernel: (LHS rows M0,
# depth K0, RHS lanes N0, LHS bits), as include/qat/Codegen/CPU/
# Targets.h. "avx2-pairs" is avx2's vpmaddubsw kernel for products
# marked proven not to saturate; None the generic loops (16-lane tiles).
INT8_TILES = {None: (8, 4, 16, 8), "avx512vnni": (8, 4, 16, 8), "avxvnni": (8, 4, 8, 8),
              "avx2": (6, 2, 8, 16), "avx2-pairs": (4, 4, 8, 8), "dotprod": (8, 4, 4, 8)}


def int8_gemm_module(name, m, k, n, isa=None, packed_rhs=False):
    """`@name(a: MxK i8, b) -> MxN i32` in the data-tiled form of `isa`'s
    microkernel: A widened (16-bit LHS) and packed, linalg.mmt4d (marked
    proven for "avx2-pairs"), C unpacked. B is K x N i8 packed in the
    function, or with `packed_rhs` already packed (N1 x K1 x N0 x K0), as
    qat-compile packs weights."""
    rows, depth, lanes, bits = INT8_TILES[isa]
    ceil = lambda a, b: -(-a // b)
    m1, k1, n1 = ceil(m, rows), ceil(k, depth), ceil(n, lanes)
    proven = "{qat.pairs_proven_unsaturated} " if isa == "avx2-pairs" else ""
    packed_type = f"tensor<{n1}x{k1}x{lanes}x{depth}xi8>"
    lhs, widen = "%a", ""
    if bits == 16:
        widen = f"%a16 = arith.extsi %a : tensor<{m}x{k}xi8> to tensor<{m}x{k}xi16>"
        lhs = "%a16"
    if packed_rhs:
        rhs_type, pack_rhs = packed_type, ""
    else:
        rhs_type = f"tensor<{k}x{n}xi8>"
        pack_rhs = f"""%z8 = arith.constant 0 : i8
  %eb = tensor.empty() : {packed_type}
  %pb = linalg.pack %b padding_value(%z8 : i8) outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [{lanes}, {depth}] into %eb : tensor<{k}x{n}xi8> -> {packed_type}"""
    rhs = "%b" if packed_rhs else "%pb"
    return f"""
func.func @{name}(%a: tensor<{m}x{k}xi8>, %b: {rhs_type}) -> tensor<{m}x{n}xi32> attributes {{llvm.emit_c_interface}} {{
  {widen}
  %za = arith.constant 0 : i{bits}
  %ea = tensor.empty() : tensor<{m1}x{k1}x{rows}x{depth}xi{bits}>
  %pa = linalg.pack {lhs} padding_value(%za : i{bits}) inner_dims_pos = [0, 1] inner_tiles = [{rows}, {depth}] into %ea : tensor<{m}x{k}xi{bits}> -> tensor<{m1}x{k1}x{rows}x{depth}xi{bits}>
  {pack_rhs}
  %z32 = arith.constant 0 : i32
  %ec = tensor.empty() : tensor<{m1}x{n1}x{rows}x{lanes}xi32>
  %c = linalg.fill ins(%z32 : i32) outs(%ec : tensor<{m1}x{n1}x{rows}x{lanes}xi32>) -> tensor<{m1}x{n1}x{rows}x{lanes}xi32>
  %r = linalg.mmt4d {proven}ins(%pa, {rhs} : tensor<{m1}x{k1}x{rows}x{depth}xi{bits}>, {packed_type}) outs(%c : tensor<{m1}x{n1}x{rows}x{lanes}xi32>) -> tensor<{m1}x{n1}x{rows}x{lanes}xi32>
  %eo = tensor.empty() : tensor<{m}x{n}xi32>
  %o = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [{rows}, {lanes}] into %eo : tensor<{m1}x{n1}x{rows}x{lanes}xi32> -> tensor<{m}x{n}xi32>
  return %o : tensor<{m}x{n}xi32>
}}
"""


def function_signature(mlir_text, name):
    """The names in the signature of func.func @name in printed MLIR:
    (arguments as (role, name) pairs of their qat.state / qat.input
    attributes, results as the names of their qat.state, qat.output or
    qat.gradient attributes), in order."""
    import re
    header = mlir_text[mlir_text.index(f"func.func @{name}("):]
    header = header[:header.index("{\n")]
    arguments, results = header.split(") -> (")
    argument_names = re.findall(r'qat\.(state|input) = "([^"]+)"', arguments)
    result_names = [re.search(r'qat\.(?:state|output|gradient) = "([^"]+)"', r).group(1)
                    for r in re.findall(r"tensor<[^>]*> \{[^}]*\}", results)]
    return argument_names, result_names
