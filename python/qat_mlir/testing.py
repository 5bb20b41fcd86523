"""Assertions that compare qat-mlir results with reference values."""

import numpy as np


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
