# Whole-tensor min/max reductions (an observer's range) as the pipeline
# compiles them: --qat-vectorize-min-max-reductions turns them into 64-lane
# vector loops with a scalar remainder. Against a reference of the ops'
# semantics, bit for bit: minimumf/maximumf propagate NaN and order -0 below
# +0. Sizes below, at and around the vector
# width and a conv activation's size; data with NaNs in the vector part and
# in the remainder, with both signed zeros, and starting values inside and
# outside the data's range.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: 2 combiners x 8 sizes x 5 data sets: vectorized, bit-exact

import numpy as np

import qat_mlir

rng = np.random.default_rng(20261127)
SIZES = [1, 5, 63, 64, 65, 130, 1000, 4 * 16 * 28 * 28]
COMBINERS = ["minimumf", "maximumf"]


def module(n, combiner):
    t = f"tensor<{n}xf32>"
    return f"""
func.func @reduce(%x: {t}, %init: tensor<f32>) -> tensor<f32> {{
  %r = linalg.generic {{indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> ()>],
                        iterator_types = ["reduction"]}}
      ins(%x : {t}) outs(%init : tensor<f32>) {{
  ^bb0(%in: f32, %acc: f32):
    %0 = arith.{combiner} %in, %acc : f32
    linalg.yield %0 : f32
  }} -> tensor<f32>
  return %r : tensor<f32>
}}
"""


def reference(values, combiner):
    values = np.asarray(values, dtype=np.float32)
    if np.isnan(values).any():
        return np.float32(np.nan)
    # Order by value, then -0 before +0.
    key = values.astype(np.float64) + 0.0
    pick = np.argmin if combiner.startswith("min") else np.argmax
    best = values[pick(key)]
    if best == 0:
        zeros = values[values == 0]
        negative = np.signbit(zeros)
        if combiner.startswith("min"):
            best = np.float32(-0.0) if negative.any() else np.float32(0.0)
        else:
            best = np.float32(0.0) if (~negative).any() else np.float32(-0.0)
    return np.float32(best)


def same(a, b):
    a, b = np.float32(a), np.float32(b)
    if np.isnan(b):
        return bool(np.isnan(a))
    return a.tobytes() == b.tobytes()


def data_sets(n):
    plain = rng.standard_normal(n).astype(np.float32)
    yield plain, np.float32(0.5)                       # init inside the range
    yield plain, np.float32(1e9 if n % 2 else -1e9)     # init outside it
    zeros = np.where(rng.random(n) < 0.5, np.float32(0.0), np.float32(-0.0))
    yield zeros.astype(np.float32), np.float32(-0.0 if n % 2 else 0.0)
    nan_early = plain.copy()
    nan_early[0] = np.nan                              # in the vector part (n >= 64)
    yield nan_early, np.float32(0.0)
    nan_late = plain.copy()
    nan_late[-1] = np.nan                              # in the scalar remainder
    yield nan_late, np.float32(1.0)


for combiner in COMBINERS:
    for n in SIZES:
        source = module(n, combiner)
        lowered = qat_mlir.opt(source, "--qat-lower-to-llvm")
        if n >= 64:
            assert "llvm.intr.vector.reduce.f" in lowered, (combiner, n, "not vectorized")
        for values, init in data_sets(n):
            got = qat_mlir.run(source, "reduce", [values, np.array(init, dtype=np.float32)])[0]
            expected = reference(np.append(values, init), combiner)
            assert same(got, expected), (combiner, n, got, expected)
print(f"{len(COMBINERS)} combiners x {len(SIZES)} sizes x 5 data sets: vectorized, bit-exact")
