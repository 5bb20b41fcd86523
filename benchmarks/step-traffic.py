"""Bytes that the linalg ops of one compiled training step read and write.

    /usr/bin/python3 benchmarks/step-traffic.py [--qconfig per-tensor]

Imports the small CNN (batch 64), builds its training step as qat-train
does (QAT: --qat-prepare first), lowers it with --qat-lower-to-llvm and
reads the IR right after --qat-fuse-elementwise: for each linalg op of
@loss_and_gradients, the sizes of its input and output tensors, summed.
A count, not a timing: each op's operands pass through memory once (the
GEMMs' operands are counted once too, though they are read per panel).
Where the machine's speed drifts by more than a change gains, this says
whether the change took passes over memory away.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import qat_mlir  # noqa: E402
from qat_mlir import models  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--qconfig", choices=["none", "per-tensor"], default="none")
args = parser.parse_args()

BYTES = {"f32": 4, "i32": 4, "i64": 8, "i8": 1, "i1": 1}


def tensor_bytes(shape_and_type):
    *dims, element = shape_and_type.split("x")
    count = 1
    for dim in dims:
        count *= int(dim)
    return count * BYTES[element]


with tempfile.TemporaryDirectory() as tmp:
    torch.manual_seed(0)
    torch.jit.trace(models.FusableSmallCNN().train(), torch.randn(64, 1, 28, 28),
                    check_trace=False).save(f"{tmp}/m.pt")
    opt = qat_mlir.find_tool("qat-opt")
    subprocess.run([qat_mlir.find_tool("qat-import"), f"{tmp}/m.pt", "--input-shape",
                    "64x1x28x28", "--mode", "train", "-o", f"{tmp}/m.mlir"], check=True)
    # qat-train's own pass order (the step of a plain qat-train run).
    pipeline = "--qat-train-step-pipeline" + (
        "=qconfig=per-tensor" if args.qconfig == "per-tensor" else "")
    subprocess.run([opt, f"{tmp}/m.mlir", pipeline, "-o", f"{tmp}/step.mlir"], check=True)
    ir = subprocess.run([opt, f"{tmp}/step.mlir", "--qat-lower-to-llvm=threads=2",
                         "--mlir-print-ir-after=qat-fuse-elementwise",
                         "--mlir-print-ir-module-scope", "--mlir-disable-threading",
                         "-o", os.devnull], check=True, capture_output=True, text=True).stderr

body = ir[ir.index("@loss_and_gradients("):]
body = body[:body.index("\n  }\n")]
total, ops = 0, 0
for match in re.finditer(r"= linalg\.\w+.*?ins\((.*?)\)\s*outs\((.*?)\)", body):
    ops += 1
    for operands in match.groups():
        total += sum(tensor_bytes(t) for t in re.findall(r"tensor<([^>]*)>", operands))
print(f"small CNN {args.qconfig if args.qconfig != 'none' else 'fp32'} training step: "
      f"{total / 1e6:.1f} MB read and written by {ops} linalg ops")
