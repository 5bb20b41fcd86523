"""qat-mlir from Python.

For now a thin layer over the command-line tools: `import_torchscript` turns a
TorchScript archive into an MLIR module with `qat-import`, and `run` /
`run_file` call a function of a module on NumPy arrays through `qat-run`
(lowering with qat-lower-to-llvm and MLIR's JIT) and return its results as
NumPy arrays; `opt` runs `qat-opt` passes on module text.
"""

from qat_mlir.tools import (QatToolError, find_tool, import_torchscript, opt,
                            run, run_file)

__all__ = ["QatToolError", "find_tool", "import_torchscript", "opt", "run",
           "run_file"]
