# qat.choose_qparams using fake_quant_kernel against the parameters that
# PyTorch 1.13's fused fake-quantization kernel (fused_moving_avg_obs_fake_quant,
# which the default QAT qconfigs use) writes into its scale and zero-point
# buffers: bit for bit, per tensor and per channel, affine and symmetric,
# including tiny ranges (the 6.1e-5 scale cut-off) and one-sided ranges.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: affine ui8[0:255]: {{[0-9]+}} ranges bit-exact
# CHECK: symmetric i8[-128:127]: {{[0-9]+}} ranges bit-exact
# CHECK: affine i8[-128:127]: {{[0-9]+}} ranges bit-exact
# CHECK: symmetric ui8[0:255]: {{[0-9]+}} ranges bit-exact
# CHECK: per-tensor calls agree with the per-channel ones

import numpy as np
import torch

from qat_mlir.testing import assert_bitwise_equal, choose_qparams

rng = np.random.default_rng(5)
pairs = [(0.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (2.0, 7.0), (-7.0, -2.0),
         (1e-12, 2e-12), (-3e-9, 1e-9), (-1e-3, 2e-3), (-0.004, 0.002),
         (0.0, 1e-4), (-1e-4, 0.0), (-1e30, 1e30), (-1e-3, 1e4), (-0.1, 12.3),
         (-1.0, 1.0), (-2.5, 0.75), (0.5, 0.5)]
lo = -np.abs(rng.standard_normal(300)) * rng.choice([1e-4, 1e-2, 1, 100], 300)
hi = np.abs(rng.standard_normal(300)) * rng.choice([1e-4, 1e-2, 1, 100], 300)
pairs += list(zip(lo, hi))
mins = np.array([p[0] for p in pairs], np.float32)
maxs = np.array([p[1] for p in pairs], np.float32)
n = mins.size


def kernel(lo, hi, qmin, qmax, symmetric, per_channel):
    """Scale and zero-point as the fused kernel writes them (no observing)."""
    count = lo.size
    x = torch.zeros(count, 2)
    scale = torch.ones(count if per_channel else 1)
    zero_point = torch.zeros(count if per_channel else 1, dtype=torch.int32)
    torch.fused_moving_avg_obs_fake_quant(
        x, torch.tensor([0], dtype=torch.uint8), torch.tensor([1], dtype=torch.uint8),
        torch.from_numpy(lo.copy()), torch.from_numpy(hi.copy()), scale, zero_point,
        0.01, qmin, qmax, 0 if per_channel else -1, per_channel, symmetric)
    return scale.numpy(), zero_point.numpy()


configs = [("affine", "ui8", 0, 255), ("symmetric", "i8", -128, 127),
           ("affine", "i8", -128, 127), ("symmetric", "ui8", 0, 255)]
for scheme, storage, qmin, qmax in configs:
    symmetric = scheme == "symmetric"
    ref_scale, ref_zp = kernel(mins, maxs, qmin, qmax, symmetric, per_channel=True)
    scale, zp = choose_qparams(scheme, storage, qmin, qmax, mins, maxs,
                               rule="fake_quant_kernel")
    what = f"{scheme} {storage}[{qmin}:{qmax}]"
    assert_bitwise_equal(scale, ref_scale, what + " scale")
    assert_bitwise_equal(zp, ref_zp, what + " zero_point")
    print(f"{what}: {n} ranges bit-exact")

# The per-tensor path of the kernel computes the same parameters.
for index in range(0, n, 37):
    for scheme, storage, qmin, qmax in configs:
        s, z = kernel(mins[index:index + 1], maxs[index:index + 1], qmin, qmax,
                      scheme == "symmetric", per_channel=False)
        ref_s, ref_z = kernel(mins, maxs, qmin, qmax, scheme == "symmetric", True)
        assert s[0] == ref_s[index] and z[0] == ref_z[index], (index, scheme)
print("per-tensor calls agree with the per-channel ones")
