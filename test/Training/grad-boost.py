# qat.grad_boost against its formulas, computed independently in NumPy:
# - the statistics, bit for bit, over sequences of gradients, for both
#   variants (and the reference variant's compounding bias correction);
# - the noise, element by element (to f32 rounding of log), from the same
#   counter-based hash;
# - the noise's statistics over 2^20 elements: it always points along
#   sign(g), the coin admits half the elements, |n| / delta averages 1
#   (|Laplace(0, 1)|), it decays by (1 - decay)^k and respects the clip;
# - the switch: noise 0 leaves the gradient untouched but updates the
#   statistics; the same seed gives the same bits, another seed others.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: reference: statistics bit-exact over 10 steps; s_max = {{[0-9.]+}}e+0{{[23]}} after 10 steps of |g| = 1
# CHECK: corrected: statistics bit-exact over 10 steps; s_max = 1.000 after 10 steps of |g| = 1
# CHECK: noise matches the formula on 1048576 elements
# CHECK: sign: 100.000% along sign(g); coin rate 0.50{{[0-9]+}} (|0.5 - rate| < 4 sigma); mean |n|/delta {{[0-9.]+}} (|1 - mean| < 4 sigma)
# CHECK: decay: k = 100 scales the noise by 0.99^100
# CHECK: clip: max |n| = clip
# CHECK: noise off: gradient unchanged, statistics updated
# CHECK: seed: same seed same bits, another seed different noise

import sys

import numpy as np

import qat_mlir

out = sys.argv[1]
M64 = (1 << 64) - 1


def module(variant, shape, clip=1e-3, decay=1e-2, coin=0.5, stream=3):
    t = "x".join(map(str, shape)) + "xf32"
    return f"""
func.func @boost(%g: tensor<{t}>, %max: tensor<{t}>, %min: tensor<{t}>, %t: tensor<i64>,
                 %k: tensor<i64>, %seed: tensor<i64>, %on: tensor<f32>)
    -> (tensor<{t}>, tensor<{t}>, tensor<{t}>) {{
  %g2, %max2, %min2 = qat.grad_boost {variant} %g, %max, %min step %t qat_steps %k seed %seed
      noise %on stream {stream} {{beta = 0.9 : f32, decay = {decay:e} : f32, clip = {clip:e} : f32,
      coin_probability = {coin:e} : f32}} : tensor<{t}>
  return %g2, %max2, %min2 : tensor<{t}>, tensor<{t}>, tensor<{t}>
}}"""


def run(source, g, mx, mn, t, k, seed, on):
    return qat_mlir.run(source, "boost", [
        g, mx, mn, np.array(t, np.int64), np.array(k, np.int64), np.array(seed, np.int64),
        np.array(on, np.float32)])


def splitmix64(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def splitmix64_array(z):
    z = z.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


f32 = np.float32
BETA = f32(0.9)


def statistics(variant, g, mx, mn, t):
    a = np.abs(g)
    correction = f32(1.0 - float(BETA) ** t)  # f64 of the f32 beta, rounded to f32
    new_max = BETA * mx + (f32(1) - BETA) * np.maximum(mx, a)
    new_min = BETA * mn + (f32(1) - BETA) * np.minimum(mn, a)
    if variant == "reference":
        new_max, new_min = new_max / correction, new_min / correction
        return new_max, new_min, new_max - new_min
    if t == 1:
        new_min = a
    return new_max, new_min, new_max / correction - new_min


def noise(g, spread, t, k, seed, stream, clip, decay, coin):
    delta = spread * f32((1.0 - float(f32(decay))) ** k)
    index = np.arange(g.size, dtype=np.uint64)
    step_key = splitmix64((t ^ ((stream * 0x9E3779B97F4A7C15) & M64)) & M64)
    h = splitmix64_array(np.uint64(seed ^ step_key) ^ splitmix64_array(index))
    u = ((h >> np.uint64(40)) + np.uint64(1)).astype(f32) * f32(2.0 ** -24)
    c = ((h >> np.uint64(16)) & np.uint64(0xFFFFFF)).astype(f32) * f32(2.0 ** -24)
    magnitude = -np.log(u)
    heads = (c < f32(coin)).astype(f32)
    n = magnitude * delta.reshape(-1) * heads * np.sign(g).reshape(-1)
    return np.clip(n, -f32(clip), f32(clip)).reshape(g.shape)


rng = np.random.default_rng(0)
# Statistics over a sequence of gradients, including |g| = 1 throughout.
for variant in ("reference", "corrected"):
    source = module(variant, (4, 8))
    mx = np.zeros((4, 8), f32)
    mn = np.zeros((4, 8), f32)
    ones_max = f32(0)
    for t in range(1, 11):
        g = rng.standard_normal((4, 8)).astype(f32)
        g[0, 0] = 1.0
        g2, mx2, mn2 = run(source, g, mx, mn, t, 0, 1, 0.0)
        expect_max, expect_min, _ = statistics(variant, g, mx, mn, t)
        assert np.array_equal(mx2.view(np.uint32), expect_max.view(np.uint32)), (variant, t)
        assert np.array_equal(mn2.view(np.uint32), expect_min.view(np.uint32)), (variant, t)
        assert np.array_equal(g2, g)
        mx, mn = mx2, mn2
    shown = mx[0, 0] / f32(1.0 - float(BETA) ** 10) if variant == "corrected" else mx[0, 0]
    # The reference compounds: ~1e3 after 10 steps of |g| = 1 (METHOD.md).
    assert (shown > 100) if variant == "reference" else abs(shown - 1) < 1e-5
    value = f"{shown:.3f}" if variant == "corrected" else f"{shown:.3e}"
    print(f"{variant}: statistics bit-exact over 10 steps; s_max = {value} after 10 steps "
          "of |g| = 1")

# Noise, element by element and in distribution.
shape = (1024, 1024)
g = (rng.standard_normal(shape) * 0.01).astype(f32)
g[0, :8] = 0.0
mx = (np.abs(rng.standard_normal(shape)) * 0.02).astype(f32)
mn = np.zeros(shape, f32)
big_clip = 1e30
source = module("corrected", shape, clip=big_clip)
g2, mx2, mn2 = run(source, g, mx, mn, 5, 0, 42, 1.0)
_, _, spread = statistics("corrected", g, mx, mn, 5)
expected = noise(g, spread, 5, 0, 42, 3, big_clip, 1e-2, 0.5)
assert np.allclose(g2, g + expected, rtol=2e-6, atol=0), np.abs(g2 - (g + expected)).max()
print(f"noise matches the formula on {g.size} elements")

n = (g2.astype(np.float64) - g.astype(np.float64))
nonzero = n != 0
assert np.all(np.sign(n[nonzero]) == np.sign(g[nonzero]))
assert np.all(n[g == 0] == 0)
rate = nonzero.mean()
assert abs(rate - 0.5) < 4 * np.sqrt(0.25 / n.size), rate
delta = spread.astype(np.float64)
ratio = np.abs(n[nonzero]) / delta[nonzero]
mean = ratio.mean()
assert abs(mean - 1) < 4 / np.sqrt(ratio.size), mean
print(f"sign: {100 * np.mean(np.sign(n[nonzero]) == np.sign(g[nonzero])):.3f}% along sign(g); "
      f"coin rate {rate:.4f} (|0.5 - rate| < 4 sigma); mean |n|/delta {mean:.4f} "
      "(|1 - mean| < 4 sigma)")

g3, _, _ = run(source, g, mx, mn, 5, 100, 42, 1.0)
assert np.allclose(g3, g + noise(g, spread, 5, 100, 42, 3, big_clip, 1e-2, 0.5),
                   rtol=2e-6, atol=0)
n3 = g3.astype(np.float64) - g
big = np.abs(n) > 1e-4
assert np.allclose(n3[big] / n[big], 0.99 ** 100, rtol=1e-3)
print("decay: k = 100 scales the noise by 0.99^100")

small = module("corrected", shape, clip=1e-4)
g4, _, _ = run(small, g, mx, mn, 5, 0, 42, 1.0)
n4 = g4.astype(np.float64) - g.astype(np.float64)
assert np.abs(n4).max() <= 1e-4 * (1 + 1e-3) and np.abs(n4).max() > 0.99e-4
print("clip: max |n| = clip")

g5, mx5, mn5 = run(source, g, mx, mn, 5, 0, 42, 0.0)
assert np.array_equal(g5, g) and np.array_equal(mx5, mx2) and np.array_equal(mn5, mn2)
print("noise off: gradient unchanged, statistics updated")

again, _, _ = run(source, g, mx, mn, 5, 0, 42, 1.0)
other, _, _ = run(source, g, mx, mn, 5, 0, 43, 1.0)
assert np.array_equal(again.view(np.uint32), g2.view(np.uint32))
assert not np.array_equal(other, g2)
print("seed: same seed same bits, another seed different noise")
