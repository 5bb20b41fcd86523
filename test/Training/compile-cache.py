# qat-train's compile cache (--cache-dir, $QAT_MLIR_CACHE_DIR): a second run
# of the same code links the stored object instead of compiling, and trains
# bit for bit as a compile does; other initial weights and another seed
# (GradBoost's noise seed is a runtime input) reuse the same object, other
# compile options do not; a damaged entry is reported, recompiled and
# replaced; a cache that cannot be written costs only the caching.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: first run: compiled the training step
# CHECK: second run: loaded the compiled training step from the cache; bit-identical state
# CHECK: resumed run: loaded the compiled training step from the cache
# CHECK: other weights, other seed: loaded from the cache; bit-identical to a fresh compile; the seed changes the noise
# CHECK: one thread: compiled (other options); 2 entries, no temporary files
# CHECK: damaged entry: warning: ignoring the cached object '{{.*}}.o': The file was not recognized as a valid object file; compiling
# CHECK: damaged entry: bit-identical state; replaced, loaded by the next run
# CHECK: QAT_MLIR_CACHE_DIR: loaded the compiled training step from the cache
# CHECK: unwritable cache: warning: cannot create the cache directory '{{.*}}': {{.*}}; trained all the same

import glob
import os
import re
import subprocess
import sys

import torch

import qat_mlir
from qat_mlir import models

out = sys.argv[1]
cache = f"{out}/cache"
for seed in (0, 1):
    torch.manual_seed(seed)
    model = models.SmallCNN().train()
    torch.jit.trace(model, torch.randn(32, 1, 28, 28), check_trace=False).save(
        f"{out}/small{seed}.pt")
train = qat_mlir.find_tool("qat-train")
common = ["--batch-size", "32", "--train-limit", "256", "--test-limit", "64", "--no-progress",
          "--epochs", "1", "--lr", "0.02", "--grad-boost"]
environment = {k: v for k, v in os.environ.items() if k != "QAT_MLIR_CACHE_DIR"}


def run(model, *args, env=environment):
    done = subprocess.run([train, f"{out}/{model}.pt", *common, *args], capture_output=True,
                          text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return done


def compile_line(done):
    return next(line for line in done.stdout.splitlines() if "training step" in line)


def globals_of(path):
    return dict(re.findall(r"ml_program.global private (?:mutable )?@(\S+)\((.*)\) :",
                           open(path).read()))


def entries():
    return sorted(glob.glob(f"{cache}/*"))


first = run("small0", "--seed", "5", "--cache-dir", cache, "-o", f"{out}/first.mlir")
assert compile_line(first).startswith("compiled the training step in"), first.stdout
assert len(entries()) == 1 and entries()[0].endswith(".o"), entries()
print("first run: compiled the training step")

second = run("small0", "--seed", "5", "--cache-dir", cache, "-o", f"{out}/second.mlir")
assert compile_line(second).startswith("loaded the compiled training step from the cache")
assert globals_of(f"{out}/second.mlir") == globals_of(f"{out}/first.mlir")
print("second run: loaded the compiled training step from the cache; bit-identical state")

# A resumed run: its module records the epochs done and the normalization,
# bookkeeping that is not code.
resumed = subprocess.run([train, f"{out}/first.mlir", *common[:-5], "--epochs", "2", "--lr",
                          "0.02", "--grad-boost", "--seed", "5", "--cache-dir", cache,
                          "-o", f"{out}/resumed.mlir"],
                         capture_output=True, text=True, env=environment)
assert resumed.returncode == 0, resumed.stderr
assert compile_line(resumed).startswith("loaded the compiled training step from the cache"), \
    resumed.stdout
assert "epoch 2/2" in resumed.stdout and len(entries()) == 1
print("resumed run: loaded the compiled training step from the cache")

# Other initial weights (globals no entry uses) and another seed: the same
# code. A fresh compile of that run (no cache) gives the same bits.
cached = run("small1", "--seed", "6", "--cache-dir", cache, "-o", f"{out}/cached.mlir")
assert compile_line(cached).startswith("loaded the compiled training step from the cache")
fresh = run("small1", "--seed", "6", "-o", f"{out}/fresh.mlir")
assert compile_line(fresh).startswith("compiled the training step")
assert globals_of(f"{out}/cached.mlir") == globals_of(f"{out}/fresh.mlir")
other_seed = run("small0", "--seed", "6", "--cache-dir", cache, "-o", f"{out}/seed6.mlir")
assert compile_line(other_seed).startswith("loaded the compiled training step from the cache")
seed5, seed6 = globals_of(f"{out}/first.mlir"), globals_of(f"{out}/seed6.mlir")
assert seed5["conv1.weight"] != seed6["conv1.weight"]
print("other weights, other seed: loaded from the cache; bit-identical to a fresh compile; "
      "the seed changes the noise")

one_thread = run("small0", "--seed", "5", "--cache-dir", cache, "--num-threads", "1")
assert compile_line(one_thread).startswith("compiled the training step")
assert len(entries()) == 2 and all(e.endswith(".o") for e in entries()), entries()
print("one thread: compiled (other options); 2 entries, no temporary files")

# Damage every entry: each is reported and recompiled, and the run is the
# one a compile gives.
for entry in entries():
    with open(entry, "wb") as f:
        f.write(b"not an object")
damaged = run("small0", "--seed", "5", "--cache-dir", cache, "-o", f"{out}/damaged.mlir")
assert compile_line(damaged).startswith("compiled the training step")
warning = damaged.stderr.strip().splitlines()[0]
print("damaged entry: " + warning.split(": ", 1)[1])
assert globals_of(f"{out}/damaged.mlir") == seed5
again = run("small0", "--seed", "5", "--cache-dir", cache)
assert compile_line(again).startswith("loaded the compiled training step from the cache")
assert again.stderr == "", again.stderr
print("damaged entry: bit-identical state; replaced, loaded by the next run")

from_env = run("small0", "--seed", "5", env={**environment, "QAT_MLIR_CACHE_DIR": cache})
print("QAT_MLIR_CACHE_DIR: " + compile_line(from_env).split(" in ")[0])

# A file where the directory should be: caching fails, training does not.
open(f"{out}/a-file", "w").close()
unwritable = run("small0", "--seed", "5", "--cache-dir", f"{out}/a-file/cache",
                 "-o", f"{out}/unwritable.mlir")
assert globals_of(f"{out}/unwritable.mlir") == seed5
print("unwritable cache: " + unwritable.stderr.strip().splitlines()[0].split(": ", 1)[1]
      + "; trained all the same")
