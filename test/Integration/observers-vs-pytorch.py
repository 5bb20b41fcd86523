# Min/max and moving-average observers, per tensor and per axis, threaded
# through three batches inside one compiled function, against PyTorch 1.13's
# observers: the state after every batch and the quantization parameters
# computed from the final state, bit for bit.
#
# RUN: %python %s | FileCheck %s
#
# CHECK: observe_min_max per-tensor: 3 steps and qparams bit-exact
# CHECK: observe_moving_average_min_max c=0.01 per-tensor: 3 steps and qparams bit-exact
# CHECK: observe_moving_average_min_max c=0.3 per-tensor: 3 steps and qparams bit-exact
# CHECK: observe_min_max axis 0: 3 steps and qparams bit-exact
# CHECK: observe_min_max axis 3: 3 steps and qparams bit-exact
# CHECK: observe_moving_average_min_max c=0.01 axis 1: 3 steps and qparams bit-exact
# CHECK: observe_moving_average_min_max c=0.3 axis 2: 3 steps and qparams bit-exact

import numpy as np
import torch
from torch.ao.quantization import observer as obs

import qat_mlir
from qat_mlir.testing import assert_bitwise_equal

rng = np.random.default_rng(7)
SHAPE = (8, 6, 5, 4)
STEPS = 3


def tensor_type(shape, element="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + element + ">"


def module_for(op, averaging_constant, axis, scheme, storage, qmin, qmax):
    state_shape = (SHAPE[axis],) if axis is not None else ()
    x_t, s_t = tensor_type(SHAPE), tensor_type(state_shape)
    z_t = tensor_type(state_shape, "i32")
    attrs = ""
    if averaging_constant is not None:
        attrs += f" averaging_constant {averaging_constant}"
    if axis is not None:
        attrs += f" axis {axis}"
    lines, results = [], []
    state = ("%min", "%max")
    for step in range(STEPS):
        lines.append(f"  %lo{step}, %hi{step} = qat.{op} %x{step}, {state[0]}, "
                     f"{state[1]}{attrs} : {x_t}, {s_t}")
        state = (f"%lo{step}", f"%hi{step}")
        results += list(state)
    lines.append(f"  %s, %z = qat.choose_qparams {scheme} {state[0]}, {state[1]} "
                 f"to {storage}[{qmin} : {qmax}] : {s_t}")
    args = ", ".join([f"%x{i}: {x_t}" for i in range(STEPS)]
                     + [f"%min: {s_t}", f"%max: {s_t}"])
    result_types = ", ".join([s_t] * len(results) + [s_t, z_t])
    body = "\n".join(lines)
    return f"""
func.func @main({args}) -> ({result_types}) {{
{body}
  return {", ".join(results + ["%s", "%z"])} : {result_types}
}}
""", state_shape


def check(op, averaging_constant, axis, torch_observer, scheme, storage, qmin,
          qmax, what):
    source, state_shape = module_for(op, averaging_constant, axis, scheme,
                                     storage, qmin, qmax)
    # Batches with shifting ranges so that the moving average moves.
    batches = [(rng.standard_normal(SHAPE) * (1 + step) + step - 1)
               .astype(np.float32) for step in range(STEPS)]
    min0 = np.full(state_shape, np.inf, np.float32)
    max0 = np.full(state_shape, -np.inf, np.float32)
    outputs = qat_mlir.run(source, "main", batches + [min0, max0])
    for step in range(STEPS):
        torch_observer(torch.from_numpy(batches[step]))
        assert_bitwise_equal(outputs[2 * step], torch_observer.min_val.numpy(),
                             f"{what} min after step {step}")
        assert_bitwise_equal(outputs[2 * step + 1], torch_observer.max_val.numpy(),
                             f"{what} max after step {step}")
    scale, zero_point = torch_observer.calculate_qparams()
    # PyTorch returns per-tensor parameters with shape [1].
    assert_bitwise_equal(outputs[-2], scale.numpy().reshape(state_shape),
                         f"{what} scale")
    assert_bitwise_equal(outputs[-1],
                         zero_point.numpy().astype(np.int32).reshape(state_shape),
                         f"{what} zero_point")
    print(f"{what}: {STEPS} steps and qparams bit-exact")


affine_u8 = dict(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
check("observe_min_max", None, None, obs.MinMaxObserver(**affine_u8),
      "affine", "ui8", 0, 255, "observe_min_max per-tensor")
check("observe_moving_average_min_max", 0.01, None,
      obs.MovingAverageMinMaxObserver(averaging_constant=0.01, **affine_u8),
      "affine", "ui8", 0, 255, "observe_moving_average_min_max c=0.01 per-tensor")
check("observe_moving_average_min_max", 0.3, None,
      obs.MovingAverageMinMaxObserver(averaging_constant=0.3, dtype=torch.qint8,
                                      qscheme=torch.per_tensor_symmetric),
      "symmetric", "i8", -128, 127,
      "observe_moving_average_min_max c=0.3 per-tensor")
check("observe_min_max", None, 0,
      obs.PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8,
                                   qscheme=torch.per_channel_symmetric),
      "symmetric", "i8", -128, 127, "observe_min_max axis 0")
check("observe_min_max", None, 3,
      obs.PerChannelMinMaxObserver(ch_axis=3, dtype=torch.quint8,
                                   qscheme=torch.per_channel_affine),
      "affine", "ui8", 0, 255, "observe_min_max axis 3")
check("observe_moving_average_min_max", 0.01, 1,
      obs.MovingAveragePerChannelMinMaxObserver(
          averaging_constant=0.01, ch_axis=1, dtype=torch.qint8,
          qscheme=torch.per_channel_affine),
      "affine", "i8", -128, 127, "observe_moving_average_min_max c=0.01 axis 1")
check("observe_moving_average_min_max", 0.3, 2,
      obs.MovingAveragePerChannelMinMaxObserver(
          averaging_constant=0.3, ch_axis=2, dtype=torch.qint8,
          qscheme=torch.per_channel_symmetric, quant_min=-127, quant_max=127),
      "symmetric", "i8", -127, 127, "observe_moving_average_min_max c=0.3 axis 2")
