"""Writes good and broken .npy files into the directory given as argv[1]."""

import os
import sys

import numpy as np

out = sys.argv[1]
np.save(os.path.join(out, "x.npy"), np.arange(4, dtype=np.float32))
np.save(os.path.join(out, "x5.npy"), np.arange(5, dtype=np.float32))
np.save(os.path.join(out, "i.npy"), np.arange(4, dtype=np.int32))
np.save(os.path.join(out, "complex.npy"), np.zeros(4, dtype=np.complex64))
np.save(os.path.join(out, "fortran.npy"),
        np.asfortranarray(np.zeros((2, 2), dtype=np.float32)))
with open(os.path.join(out, "x.npy"), "rb") as f:
    good = f.read()
with open(os.path.join(out, "truncated.npy"), "wb") as f:
    f.write(good[:-8])
with open(os.path.join(out, "header.npy"), "wb") as f:
    f.write(good[:40])
with open(os.path.join(out, "random.npy"), "wb") as f:
    f.write(np.random.default_rng(0).bytes(512))


def with_header(name, header):
    """A version 1.0 .npy whose header dictionary is `header` (found by
    qat-npy-fuzzer: these used to read past the header or wrap a size)."""
    text = header.encode() + b" " * (63 - len(header) % 64) + b"\n"
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text)


with_header("no-dtype.npy",
            "{'fortran_order': False, 'shape': (4,), 'descr':}")
# 2^62 * 2^2 elements of 4 bytes wrap to 0 bytes in 64 bits.
with_header("wrapping.npy",
            "{'descr': '<f4', 'fortran_order': False, "
            "'shape': (4611686018427387904, 4), }")
