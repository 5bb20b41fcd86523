# qat.dropout: the mask is exactly the documented counter-based function of
# (seed, stream, element index) -- checked element for element against a
# NumPy model of it -- kept values are scaled by 1.0f / (1.0f - p) as in
# PyTorch, the drop rate matches p, and seeds and streams give different
# masks while the same seed repeats exactly.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: p=0.3 stream 0: bit-exact with the reference, drop rate 0.2982
# CHECK: p=0.5 stream 1: bit-exact with the reference, drop rate 0.4988
# CHECK: p=0.0 stream 2: bit-exact with the reference, drop rate 0.0000
# CHECK: same seed repeats; other seeds and streams differ

import numpy as np

import qat_mlir
from qat_mlir.testing import assert_bitwise_equal

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(z):
    with np.errstate(over="ignore"):
        z = z + GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def reference(x, seed, stream, p):
    index = np.arange(x.size, dtype=np.uint64).reshape(x.shape)
    with np.errstate(over="ignore"):
        key = np.uint64(seed) ^ (np.uint64(stream) * GOLDEN)
    h = splitmix64(key ^ splitmix64(index))
    u = (h >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    scale = np.float32(1.0) / (np.float32(1.0) - np.float32(p))
    return np.where(u < np.float32(p), np.float32(0.0), x * scale).astype(np.float32)


shape = (16, 32, 32)
source = f"""
func.func @main(%x: tensor<16x32x32xf32>, %seed: tensor<i64>)
    -> (tensor<16x32x32xf32>, tensor<16x32x32xf32>, tensor<16x32x32xf32>) {{
  %a = qat.dropout %x, %seed stream 0 probability 0.3 : tensor<16x32x32xf32>, tensor<i64>
  %b = qat.dropout %x, %seed stream 1 probability 0.5 : tensor<16x32x32xf32>, tensor<i64>
  %c = qat.dropout %x, %seed stream 2 probability 0.0 : tensor<16x32x32xf32>, tensor<i64>
  return %a, %b, %c : tensor<16x32x32xf32>, tensor<16x32x32xf32>, tensor<16x32x32xf32>
}}
"""
rng = np.random.default_rng(3)
x = (rng.standard_normal(shape) + 3.0).astype(np.float32)  # never zero
seed = 20261127
outputs = qat_mlir.run(source, "main", [x, np.array(seed, np.int64)])
for output, (stream, p) in zip(outputs, [(0, 0.3), (1, 0.5), (2, 0.0)]):
    assert_bitwise_equal(output, reference(x, seed, stream, p), f"stream {stream}")
    rate = float((output == 0).mean())
    assert abs(rate - p) < 0.01, (p, rate)
    print(f"p={p} stream {stream}: bit-exact with the reference, drop rate {rate:.4f}")

again = qat_mlir.run(source, "main", [x, np.array(seed, np.int64)])
other = qat_mlir.run(source, "main", [x, np.array(seed + 1, np.int64)])
assert all(np.array_equal(a, b) for a, b in zip(outputs, again))
assert not np.array_equal(outputs[0] == 0, other[0] == 0)
assert not np.array_equal(outputs[0] == 0, outputs[1] == 0)
print("same seed repeats; other seeds and streams differ")
