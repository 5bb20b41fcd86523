# qat-import checks a TorchScript archive before LibTorch reads it
# (ArchiveCheck.cpp): LibTorch skips the zip's CRC-32s and builds tensors
# over storages without comparing them with the archive's bytes. Each
# corruption below imported silently or read out of bounds before; now each
# is an error naming the entry and the cause, exit code 1, no output file.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: intact: exit 0
# CHECK: byte flipped in a weight: exit 1, no output: {{.*}}error: cannot load a TorchScript archive: entry 'model/data/0' is corrupt (CRC error)
# CHECK: byte flipped in code: exit 1, no output: {{.*}}entry 'model/code/{{.*}}' is corrupt
# CHECK: cut in half: exit 1, no output: {{.*}}not a valid zip archive
# CHECK: empty file: exit 1, no output: {{.*}}holds no 'data.pkl' (not a TorchScript archive)
# CHECK: weight entry shorter than its storage: exit 1, no output: {{.*}}pickle 'model/data.pkl' at byte {{[0-9]+}}: storage 'model/data/0' holds 40 bytes, the pickle declares 18 elements of 4 bytes (72 bytes): the entry is truncated
# CHECK: storage entry missing: exit 1, no output: {{.*}}names storage 'model/data/0', which the archive does not hold
# CHECK: tensor view past its storage: exit 1, no output: {{.*}}a tensor reads element 17 of storage 'model/data/0', which holds 10 elements
# CHECK: pickle cut short: exit 1, no output: {{.*}}pickle 'model/data.pkl' at byte {{[0-9]+}}: {{truncated|ends without STOP}}

import os
import struct
import subprocess
import sys
import zipfile

import torch

import qat_mlir

out = sys.argv[1]
torch.manual_seed(0)
model = torch.jit.script(
    torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU()))
intact = os.path.join(out, "model.pt")
model.save(intact)
original = open(intact, "rb").read()
archive = zipfile.ZipFile(intact)


def entry_data_offset(name):
    """Where an entry's bytes start (after its local header and padding)."""
    info = archive.getinfo(name)
    header = info.header_offset
    name_length, extra_length = struct.unpack(
        "<HH", original[header + 26:header + 30])
    return header + 30 + name_length + extra_length


def flipped(name, at):
    data = bytearray(original)
    data[entry_data_offset(name) + at] ^= 0x40
    return bytes(data)


def rewritten(change):
    """The archive with entries replaced (CRCs recomputed by zipfile)."""
    path = os.path.join(out, "rewritten.pt")
    with zipfile.ZipFile(path, "w") as target:
        for info in archive.infolist():
            data = change(info.filename, archive.read(info.filename))
            if data is not None:
                # A fresh ZipInfo: writestr updates the one it is given.
                copy = zipfile.ZipInfo(info.filename, info.date_time)
                copy.compress_type = info.compress_type
                target.writestr(copy, data)
    return open(path, "rb").read()


def pickle_with(old, new):
    def change(name, data):
        if name == "model/data.pkl":
            assert data.count(old) == 1
            return data.replace(old, new)
        return data
    return change


code = next(n for n in archive.namelist() if n.endswith(".py"))
cases = [
    ("intact", original),
    ("byte flipped in a weight", flipped("model/data/0", 5)),
    ("byte flipped in code", flipped(code, 3)),
    ("cut in half", original[:len(original) // 2]),
    ("empty file", b""),
    ("weight entry shorter than its storage",
     rewritten(lambda n, d: d[:40] if n == "model/data/0" else d)),
    ("storage entry missing",
     rewritten(lambda n, d: None if n == "model/data/0" else d)),
    # The conv weight's storage declared 10 elements instead of 18.
    ("tensor view past its storage",
     rewritten(pickle_with(b"X\x03\x00\x00\x00cpuq\tK\x12t",
                           b"X\x03\x00\x00\x00cpuq\tK\x0at"))),
    ("pickle cut short",
     rewritten(lambda n, d: d[:300] if n == "model/data.pkl" else d)),
]
for label, data in cases:
    path = os.path.join(out, "case.pt")
    result = os.path.join(out, "case.mlir")
    open(path, "wb").write(data)
    if os.path.exists(result):
        os.remove(result)
    run = subprocess.run([qat_mlir.find_tool("qat-import"), path, "--input-shape", "1x1x8x8",
                          "-o", result], capture_output=True, text=True)
    print(f"{label}: exit {run.returncode}"
          + ("" if os.path.exists(result) else ", no output")
          + (": " + run.stderr.strip().replace("\n", " ") if run.stderr
             else ""))
