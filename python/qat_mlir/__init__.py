"""qat-mlir from Python.

For now a thin layer over the command-line tools: `run` calls a function of an
MLIR module on NumPy arrays through `qat-run` (lowering with qat-lower-to-llvm
and MLIR's JIT) and returns its results as NumPy arrays.
"""

from qat_mlir.tools import QatToolError, find_tool, run, run_file

__all__ = ["QatToolError", "find_tool", "run", "run_file"]
