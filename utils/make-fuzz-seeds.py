#!/usr/bin/env python3
"""Seed corpora for the libFuzzer fuzzers (utils/run-fuzzers.sh).

    make-fuzz-seeds.py OUTDIR

writes OUTDIR/{mlir,npy,idx,archive}/: the test suite's MLIR, split where
the tests split it (`// -----`); .npy arrays of every element type the
tools read, in NumPy's header versions 1-3; IDX images and labels, plain;
and small TorchScript archives (scripted and traced, with parameters,
buffers and constants). Deterministic: the same files on every run.
"""
import io
import warnings
import os
import pathlib
import struct
import sys

import numpy as np
import torch

warnings.filterwarnings("ignore")

root = pathlib.Path(__file__).resolve().parent.parent
out = pathlib.Path(sys.argv[1])
for kind in ("mlir", "npy", "idx", "archive"):
    (out / kind).mkdir(parents=True, exist_ok=True)


def write(kind, name, data):
    (out / kind / name).write_bytes(data)


# The test suite's MLIR: every chunk of every .mlir file up to 16 KiB (the
# larger ones are whole models; their ops appear in smaller tests too).
count = 0
for path in sorted((root / "test").rglob("*.mlir")):
    text = path.read_text()
    for index, chunk in enumerate(text.split("// -----")):
        data = chunk.encode()
        if 0 < len(data) <= 16384:
            write("mlir", f"{path.stem}-{index}.mlir", data)
            count += 1

# .npy: each element type, scalar to 4-D, C and Fortran order, header
# versions 1.0, 2.0 and 3.0.
rng = np.random.default_rng(0)
arrays = {
    "f4": rng.standard_normal((2, 3)).astype(np.float32),
    "f8": rng.standard_normal((3,)),
    "i1": np.arange(-4, 4, dtype=np.int8).reshape(2, 2, 2),
    "u1": np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4),
    "i2": np.arange(6, dtype=np.int16),
    "i4": np.arange(6, dtype=np.int32).reshape(3, 2),
    "i8": np.array(7, dtype=np.int64),
    "b1": np.array([True, False, True]),
    "empty": np.zeros((0, 3), np.float32),
}
for name, array in arrays.items():
    for version in ((1, 0), (2, 0), (3, 0)):
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, version=version)
        write("npy", f"{name}-v{version[0]}.npy", buffer.getvalue())
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asfortranarray(array))
    write("npy", f"{name}-fortran.npy", buffer.getvalue())


# IDX: images (rank 3) and labels (rank 1) of unsigned bytes.
def idx(shape):
    header = bytes([0, 0, 0x08, len(shape)])
    header += b"".join(struct.pack(">I", size) for size in shape)
    return header + bytes(i % 251 for i in range(int(np.prod(shape))))


write("idx", "images.idx", idx((3, 4, 4)))
write("idx", "labels.idx", idx((3,)))
write("idx", "rank0.idx", idx(()))

# TorchScript archives: a scripted conv/bn/linear model, a traced model with
# tensor constants, and a module holding views of a shared storage.
torch.manual_seed(0)
scripted = torch.jit.script(torch.nn.Sequential(
    torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
    torch.nn.Flatten(), torch.nn.Linear(8, 3)))


class Constants(torch.nn.Module):
    def forward(self, x):
        return x * torch.tensor([1.0, 2.0, 3.0]) + torch.arange(3)


class Views(torch.nn.Module):
    def __init__(self):
        super().__init__()
        base = torch.arange(12, dtype=torch.float32)
        self.register_buffer("tail", base[4:])
        self.register_buffer("strided", base.view(3, 4)[:, ::2])

    def forward(self, x):
        return x + self.tail.sum() + self.strided.sum()


modules = {
    "scripted": scripted,
    "traced": torch.jit.trace(Constants(), torch.zeros(3)),
    "views": torch.jit.script(Views()),
}
for name, module in modules.items():
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    write("archive", f"{name}.pt", buffer.getvalue())

print(f"fuzz seeds in {out}: {count} MLIR chunks, "
      f"{len(list((out / 'npy').iterdir()))} .npy, 3 IDX, "
      f"{len(modules)} archives")
