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
