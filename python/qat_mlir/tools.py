"""Calling qat-mlir's tools on NumPy arrays."""

import os
import shutil
import subprocess
import tempfile

import numpy as np


class QatToolError(RuntimeError):
    """A qat-mlir tool exited with an error; the message is its stderr."""


def find_tool(name):
    """Path of a qat-mlir tool: $QAT_MLIR_TOOLS_DIR, then build/bin, then PATH."""
    candidates = []
    if os.environ.get("QAT_MLIR_TOOLS_DIR"):
        candidates.append(os.path.join(os.environ["QAT_MLIR_TOOLS_DIR"], name))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    candidates.append(os.path.join(repo, "build", "bin", name))
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise QatToolError(f"cannot find the '{name}' tool; build qat-mlir or set QAT_MLIR_TOOLS_DIR")


def run_file(mlir_path, entry, inputs, opt_level=2, int8_isa=None, threads=1):
    """Call `entry` of the module in `mlir_path` on `inputs` (NumPy arrays).

    `int8_isa` (avx512vnni, avxvnni, avx2; default: qat-run's "host", the
    best this CPU runs; "": generic loops) lowers int8 mmt4d ops to that
    microkernel; `threads` splits each large op over that many
    OpenMP threads. Returns the list of results as NumPy arrays.
    """
    with tempfile.TemporaryDirectory(prefix="qat-run-") as tmp:
        command = [find_tool("qat-run"), mlir_path, "--entry", entry, f"-O{opt_level}",
                   f"--num-threads={threads}"]
        if int8_isa is not None:
            command.append(f"--int8-isa={int8_isa}")
        for index, array in enumerate(inputs):
            path = os.path.join(tmp, f"in{index}.npy")
            np.save(path, np.require(array, requirements="C"))
            command += ["--input", path]
        out_dir = os.path.join(tmp, "out")
        command += ["--output-dir", out_dir]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise QatToolError(done.stderr.strip())
        count = len(os.listdir(out_dir))
        return [np.load(os.path.join(out_dir, f"result{index}.npy")) for index in range(count)]


def run(mlir_source, entry, inputs, opt_level=2, int8_isa=None, threads=1):
    """Like run_file, with the module given as text."""
    with tempfile.TemporaryDirectory(prefix="qat-src-") as tmp:
        path = os.path.join(tmp, "module.mlir")
        with open(path, "w") as f:
            f.write(mlir_source)
        return run_file(path, entry, inputs, opt_level, int8_isa, threads)


def opt(mlir_source, *pass_options):
    """The module `mlir_source` (text) after `qat-opt` with `pass_options`
    (e.g. "--qat-fold-quant=function=f"); returns the printed module."""
    done = subprocess.run([find_tool("qat-opt"), "-", *pass_options],
                          input=mlir_source, capture_output=True, text=True)
    if done.returncode != 0:
        raise QatToolError(done.stderr.strip())
    return done.stdout


def import_torchscript(model_path, mlir_path, input_shapes=None, mode="eval",
                       input_types=None):
    """Import a TorchScript archive with qat-import; returns `mlir_path`.

    `input_shapes` is a list of shapes (tuples), one per model input;
    `input_types` their element types ("f32", "i64"; default: all f32).
    """
    command = [find_tool("qat-import"), model_path, "-o", mlir_path, "--mode", mode]
    for index, shape in enumerate(input_shapes or []):
        element = input_types[index] if input_types else "f32"
        suffix = "xi64" if element == "i64" else ""
        command += ["--input-shape", "x".join(str(int(d)) for d in shape) + suffix]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise QatToolError(done.stderr.strip())
    return mlir_path
