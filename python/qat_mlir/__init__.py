"""qat-mlir from Python.

The API (qat_mlir.api, in the process through the `_qat_mlir` extension):
`import_module` turns a PyTorch model into a `Module`, a `Trainer` trains
it with QAT from scratch (StatAssist, GradBoost) one compiled step per
batch, and `compile` makes an int8 (or fp32) `CompiledModel` to call on
NumPy arrays or save as an object, library or program.

The tool wrappers (qat_mlir.tools) call the command-line tools: `run` /
`run_file` a function of a module through `qat-run`, `opt` runs `qat-opt`
passes, `import_torchscript` runs `qat-import`.
"""

import os as _os

# The extension of a build tree: $QAT_MLIR_BUILD_DIR, else the checkout's
# build/ (an installed package has it next to this file).
_build = _os.path.abspath(_os.environ.get("QAT_MLIR_BUILD_DIR") or _os.path.join(
    _os.path.dirname(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))), "build"))
__path__.append(_os.path.join(_build, "python", "qat_mlir"))

from qat_mlir.tools import (QatToolError, find_tool, import_torchscript, opt,
                            run, run_file)

__all__ = ["QatToolError", "find_tool", "import_torchscript", "opt", "run",
           "run_file", "CompiledModel", "Module", "QatError", "Trainer",
           "compile", "default_cache_dir", "host_target", "import_module",
           "targets"]


def __getattr__(name):
    # The API loads the extension on first use, so the tool wrappers work
    # without it (e.g. in the sanitizer build).
    if name in ("CompiledModel", "Module", "QatError", "Trainer", "compile",
                "default_cache_dir", "host_target", "import_module", "targets", "api"):
        import importlib
        api = importlib.import_module("qat_mlir.api")
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module 'qat_mlir' has no attribute {name!r}")
