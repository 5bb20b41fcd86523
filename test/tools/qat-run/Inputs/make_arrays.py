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
