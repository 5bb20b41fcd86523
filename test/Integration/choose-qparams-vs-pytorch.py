# qat.choose_qparams on edge-case ranges against PyTorch 1.13's observer
# _calculate_qparams, for every scheme and range kind: bit for bit.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: affine ui8[0:255]: {{[0-9]+}} ranges bit-exact
# CHECK: affine i8[-128:127]: {{[0-9]+}} ranges bit-exact
# CHECK: affine ui4[0:15]: {{[0-9]+}} ranges bit-exact
# CHECK: symmetric i8[-128:127]: {{[0-9]+}} ranges bit-exact
# CHECK: symmetric i8[-127:127]: {{[0-9]+}} ranges bit-exact
# CHECK: symmetric ui8[0:255]: {{[0-9]+}} ranges bit-exact
# CHECK: unobserved range gives scale 1, zero-point 0 in every scheme

import warnings

import numpy as np
import torch
from torch.ao.quantization import observer as obs

from qat_mlir.testing import assert_bitwise_equal, choose_qparams

# PyTorch warns that an unobserved observer has no range; that is the case
# under test.
warnings.filterwarnings("ignore", category=UserWarning)
rng = np.random.default_rng(11)

# (min, max) pairs with min <= max: random spans, all-positive, all-negative,
# empty at zero, tiny (scale clamps to eps), huge, and asymmetric.
pairs = [(0.0, 0.0), (-0.0, 0.0), (1e-12, 2e-12), (-3e-9, 1e-9), (0.5, 0.5),
         (-1.0, -1.0), (2.0, 7.0), (-7.0, -2.0), (-1e30, 1e30), (-1e-3, 1e4),
         (-255.0, 0.0), (0.0, 255.0), (-1.0, 1.0), (-0.1, 12.3)]
random_min = -np.abs(rng.standard_normal(200)) * rng.uniform(0, 10, 200)
random_max = np.abs(rng.standard_normal(200)) * rng.uniform(0, 10, 200)
pairs += list(zip(random_min, random_max))
mins = np.array([p[0] for p in pairs], np.float32)
maxs = np.array([p[1] for p in pairs], np.float32)
n = mins.size


configs = [
    ("affine", "ui8", 0, 255,
     dict(dtype=torch.quint8, qscheme=torch.per_channel_affine)),
    ("affine", "i8", -128, 127,
     dict(dtype=torch.qint8, qscheme=torch.per_channel_affine)),
    ("affine", "ui4", 0, 15,
     dict(dtype=torch.quint8, qscheme=torch.per_channel_affine,
          quant_min=0, quant_max=15)),
    ("symmetric", "i8", -128, 127,
     dict(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)),
    ("symmetric", "i8", -127, 127,
     dict(dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
          quant_min=-127, quant_max=127)),
    # PyTorch's default (not customized) unsigned symmetric range: zp 128.
    ("symmetric", "ui8", 0, 255,
     dict(dtype=torch.quint8, qscheme=torch.per_channel_symmetric)),
]
for scheme, storage, qmin, qmax, kwargs in configs:
    observer = obs.PerChannelMinMaxObserver(**kwargs)
    ref_scale, ref_zp = observer._calculate_qparams(torch.from_numpy(mins),
                                                    torch.from_numpy(maxs))
    scale, zp = choose_qparams(scheme, storage, qmin, qmax, mins, maxs)
    what = f"{scheme} {storage}[{qmin}:{qmax}]"
    assert_bitwise_equal(scale, ref_scale.numpy(), what + " scale")
    assert_bitwise_equal(zp, ref_zp.numpy().astype(np.int32), what + " zero_point")
    print(f"{what}: {n} ranges bit-exact")

# A never-observed state (+inf, -inf): PyTorch's per-tensor observers return
# scale 1.0 and zero-point 0.
inf = np.array([np.inf], np.float32)
for scheme, storage, qmin, qmax, kwargs in configs:
    per_tensor = dict(kwargs)
    per_tensor["qscheme"] = {torch.per_channel_affine: torch.per_tensor_affine,
                             torch.per_channel_symmetric: torch.per_tensor_symmetric}[kwargs["qscheme"]]
    ref_scale, ref_zp = obs.MinMaxObserver(**per_tensor).calculate_qparams()
    scale, zp = choose_qparams(scheme, storage, qmin, qmax, inf, -inf)
    assert_bitwise_equal(scale, ref_scale.numpy(), "unobserved scale")
    assert_bitwise_equal(zp, ref_zp.numpy().astype(np.int32), "unobserved zero_point")
print("unobserved range gives scale 1, zero-point 0 in every scheme")
