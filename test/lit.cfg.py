# -*- Python -*-
# lit configuration for the qat-mlir regression tests.

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "QAT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test", ".py"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qat_obj_root, "test")

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%qat_src", config.qat_src_root))
config.substitutions.append(("%qat_obj", config.qat_obj_root))

# Project tools first, then LLVM's FileCheck, not, count and split-file.
tool_dirs = [config.qat_tools_dir, config.llvm_tools_dir]
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["qat-opt", "qat-run", "qat-import", "qat-export", "qat-train", "qat-compile", "FileCheck", "not", "count",
     "split-file"],
    tool_dirs,
)

# The Python package (python/qat_mlir) runs the tools it finds here.
llvm_config.with_environment(
    "PYTHONPATH", [os.path.join(config.qat_src_root, "python")], append_path=True
)
llvm_config.with_environment("QAT_MLIR_TOOLS_DIR", config.qat_tools_dir)
# The extension (qat_mlir._qat_mlir) of this build; the package finds it here.
llvm_config.with_environment("QAT_MLIR_BUILD_DIR", config.qat_obj_root)
if config.qat_python_extension:
    config.available_features.add("python-extension")
# Data-parallel training: `mpirun` of the MPI qat-train is built against.
# Tests run as root on CI machines, which OpenMPI refuses unless told.
if config.qat_mpirun:
    config.available_features.add("mpi")
    config.substitutions.append(("%mpirun", config.qat_mpirun + " --oversubscribe"))
    config.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    config.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    # Loopback only, no warnings about missing fabrics.
    config.environment["OMPI_MCA_btl"] = "self,vader,tcp"
    config.environment["OMPI_MCA_btl_tcp_if_include"] = "lo"
    config.environment["OMPI_MCA_oob_tcp_if_include"] = "lo"
    config.environment["QAT_MPIRUN"] = config.qat_mpirun

# The CPU differs between machines: execution tests run the targets this
# one runs (qat-compile's own host detection: `runs-<target>` features and
# %host_target, its best), code for the others is checked in assembly, and
# AArch64 runs under qemu-aarch64. QAT_HOST_FEATURES is not passed on: the
# programs' run-time checks read the real CPU, so the suite must see it too
# (tests that act as another CPU set the variable themselves).
import subprocess

targets = subprocess.run(
    [os.path.join(config.qat_tools_dir, "qat-compile"), "--print-targets"],
    capture_output=True, text=True, check=True,
).stdout.splitlines()
host_target = None
runnable = []
for line in targets:
    mark, name = line[:5].strip(), line[6:].split()[0]
    if mark in ("host", "runs"):
        runnable.append(name)
        config.available_features.add("runs-" + name)
    if mark == "host":
        host_target = name
config.substitutions.append(("%host_target", host_target))
lit_config.note(f"host target {host_target}; runs {', '.join(runnable)}")
# For utils/summarize-tests.py's summary line.
with open(os.path.join(config.qat_obj_root, "test", "host-targets.txt"), "w") as f:
    f.write(" ".join(runnable) + "\n")
