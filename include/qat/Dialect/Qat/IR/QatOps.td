//===- QatOps.td - qat dialect operations ------------------*- tablegen -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATOPS_TD
#define QAT_DIALECT_QAT_IR_QATOPS_TD

include "qat/Dialect/Qat/IR/QatBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Shared pieces
//===----------------------------------------------------------------------===//

// A signless 64-bit integer attribute read back as a signed int64_t
// (upstream's I64Attr returns uint64_t, which breaks negative bounds).
def Qat_I64Attr : TypedSignlessIntegerAttrBase<I64, "int64_t",
                                               "64-bit integer attribute"> {
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}

// The integer grid that a value is quantized to: a storage type of 1 to 8
// bits (`i8`/`si8` signed, `ui8` unsigned, or narrower) and the closed range
// [quant_min, quant_max] inside it.
defvar QuantGridArgs = (ins
  TypeAttrOf<AnyInteger>:$storage_type,
  Qat_I64Attr:$quant_min,
  Qat_I64Attr:$quant_max
);

// Fake quantization and its straight-through-estimator mask share operands,
// attributes, format and verifier.
class Qat_FakeQuantBase<string mnemonic, list<Trait> traits = []>
    : Qat_Op<mnemonic, !listconcat(traits, [Pure])> {
  let arguments = !con((ins
    RankedTensorOf<[F32]>:$input,
    RankedTensorOf<[F32]>:$scale,
    RankedTensorOf<[I32]>:$zero_point),
    QuantGridArgs,
    (ins OptionalAttr<Qat_I64Attr>:$axis));

  let assemblyFormat = "$input `,` $scale `,` $zero_point `to` $storage_type "
    "`` `[` $quant_min `:` $quant_max `]` (`axis` $axis^)? attr-dict `:` type($input) `,` type($scale) `,` "
    "type($zero_point)";

  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// FakeQuantOp
//===----------------------------------------------------------------------===//

def Qat_FakeQuantOp : Qat_FakeQuantBase<"fake_quant",
    [AllTypesMatch<["input", "output"]>]> {
  let summary = "quantize to an integer grid and back to f32";
  let description = [{
    Rounds every element of `input` to the integer grid of `storage_type`
    restricted to `[quant_min, quant_max]` and maps it back to `f32`:

    ```
    inv_s  = 1.0f / s                           (f32 division, rounded)
    q      = round_half_even(x * inv_s) + float(z)   (f32 ops)
    q      = quant_min              if q >= 2^63 or q is NaN
    out    = (clamp(q, quant_min, quant_max) - float(z)) * s
    ```

    This is exactly PyTorch 1.13's `fake_quantize_per_tensor_affine` and
    `fake_quantize_per_channel_affine` on CPU, bit for bit: PyTorch multiplies
    by the f32 inverse of the scale rather than dividing (the two differ on
    about one value in a million), adds the zero-point in f32, and its cast of
    the rounded value to `int64_t` turns NaN, infinities and values of 2^63 or
    more into `INT64_MIN` on x86, which the clamp maps to `quant_min`; the
    second line reproduces that. `(clamp(q) - z) * s` is formed exactly and
    rounded once.

    Without `axis` the quantization is per tensor and `scale`/`zero_point`
    are 0-d tensors. With `axis = a` it is per axis: `scale` and `zero_point`
    are 1-d tensors with one entry per index of dimension `a` of `input`.

    `zero_point` must lie in `[quant_min, quant_max]` and `scale` must be
    positive and finite; the verifier checks both where they are constants.

    Example (uint8 activations, per tensor; int8 symmetric weights per output
    channel):

    ```mlir
    %a = qat.fake_quant %x, %s, %z to ui8[0 : 255]
        : tensor<8x16xf32>, tensor<f32>, tensor<i32>
    %w = qat.fake_quant %k, %ws, %wz to i8[-128 : 127] axis 0
        : tensor<16x3x3x8xf32>, tensor<16xf32>, tensor<16xi32>
    ```
  }];
  let results = (outs RankedTensorOf<[F32]>:$output);
}

//===----------------------------------------------------------------------===//
// FakeQuantMaskOp
//===----------------------------------------------------------------------===//

def Qat_FakeQuantMaskOp : Qat_FakeQuantBase<"fake_quant_mask",
    [TypesMatchWith<"mask has the shape of input and i1 elements",
                    "input", "mask",
                    "::mlir::RankedTensorType::get("
                    "::llvm::cast<::mlir::RankedTensorType>($_self).getShape(),"
                    " ::mlir::IntegerType::get($_self.getContext(), 1))">]> {
  let summary = "which elements a fake_quant leaves inside its range";
  let description = [{
    The straight-through-estimator mask of `qat.fake_quant` with the same
    operands and attributes: an element is `true` where
    `quant_min <= round_half_even(x * inv_s) + z <= quant_max` (computed
    exactly as in `qat.fake_quant`, so NaN and infinities give `false`), and
    `false` where the clamp changed the value. The gradient of fake
    quantization with respect to its input is this mask (PyTorch's
    `fake_quantize_per_tensor_affine_cachemask`).

    ```mlir
    %m = qat.fake_quant_mask %x, %s, %z to ui8[0 : 255]
        : tensor<8x16xf32>, tensor<f32>, tensor<i32>
    ```
  }];
  let results = (outs RankedTensorOf<[I1]>:$mask);
}

//===----------------------------------------------------------------------===//
// Integer arithmetic: the quantized program that training simulates and
// deployment runs
//===----------------------------------------------------------------------===//

// A 0-d i32 tensor, buildable so that assembly formats need not spell it.
def Qat_I32Scalar : Type<0DTensorOf<[I32]>.predicate, "0-d tensor of i32">,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getI32Type())">;

def Qat_QuantizeOp : Qat_Op<"quantize", [Pure]> {
  let summary = "f32 to integer codes on a quantization grid";
  let description = [{
    The integer code of every element of `input`, as `qat.fake_quant`
    computes it before mapping back to f32 (same f32 operations, same
    rounding):

    ```
    q    = round_half_even(x * (1.0f / s)) + float(z)
    q    = quant_min                        if q >= 2^63 or q is NaN
    code = int32(clamp(q, quant_min', quant_max'))
    ```

    so `qat.dequantize` of the result equals `qat.fake_quant` of the input
    bit for bit. Codes are `i32` whatever the grid; the grid may be up to 32
    bits wide (biases are quantized to `i32[-2147483648 : 2147483647]`).
    `quant_min'`/`quant_max'` are the bounds as f32 values, moved inwards to
    the nearest f32 inside the range where the bound is not an f32 (grids
    wider than 24 bits), so the conversion to `i32` never overflows.

    ```mlir
    %codes = qat.quantize %x, %s, %z to ui8[0 : 255]
        : tensor<8x16xf32>, tensor<f32>, tensor<i32> -> tensor<8x16xi32>
    ```
  }];
  let arguments = !con((ins
    RankedTensorOf<[F32]>:$input,
    RankedTensorOf<[F32]>:$scale,
    RankedTensorOf<[I32]>:$zero_point),
    QuantGridArgs,
    (ins OptionalAttr<Qat_I64Attr>:$axis));
  let results = (outs RankedTensorOf<[I32]>:$output);
  let assemblyFormat = "$input `,` $scale `,` $zero_point `to` $storage_type "
    "`` `[` $quant_min `:` $quant_max `]` (`axis` $axis^)? attr-dict `:` "
    "type($input) `,` type($scale) `,` type($zero_point) `->` type($output)";
  let hasVerifier = 1;
}

def Qat_DequantizeOp : Qat_Op<"dequantize", [Pure]> {
  let summary = "integer codes back to f32";
  let description = [{
    `(float(code) - float(z)) * s` in f32: one rounding, the last step of
    `qat.fake_quant`. Without `axis` the scale and zero-point are 0-d; with
    `axis = a` they have one entry per index of dimension `a`.

    ```mlir
    %y = qat.dequantize %codes, %s, %z
        : tensor<8x10xi32>, tensor<f32>, tensor<i32> -> tensor<8x10xf32>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[I32]>:$input,
    RankedTensorOf<[F32]>:$scale,
    RankedTensorOf<[I32]>:$zero_point,
    OptionalAttr<Qat_I64Attr>:$axis);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let assemblyFormat = "$input `,` $scale `,` $zero_point (`axis` $axis^)? "
    "attr-dict `:` type($input) `,` type($scale) `,` type($zero_point) `->` "
    "type($output)";
  let hasVerifier = 1;
}

def Qat_RequantizeOp : Qat_Op<"requantize", [Pure,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "int32 accumulators to output codes (fixed-point rescale)";
  let description = [{
    Scales the `i32` accumulators of a layer by the f32 `multiplier`
    (`input_scale * weight_scale / output_scale`), adds the output
    zero-point and clamps:

    ```
    m, k   = the f32 multiplier as m * 2^-k   (m: its 24-bit significand
                                               with the implicit bit; exact)
    r      = (acc * m + 2^(k-1)) >> k          (i64; arithmetic shift)
    code   = clamp(r + z, min, max)
    ```

    `r` is `acc * multiplier` rounded to the nearest integer, ties towards
    +infinity (TOSA's `rescale` with `single_round`), computed exactly: the
    f32 multiplier *is* a 24-bit fixed-point multiplier with a shift, so no
    second rounding of the multiplier is involved. `k` is clamped to 62
    (multipliers below 2^-39 give 0 for every i32 accumulator); the
    multiplier must be positive, finite and below 2^23 (`k >= 1`), which
    `--qat-fold-quant` checks where it is a constant. `min`/`max` (0-d)
    hold the output grid's bounds, narrowed by a fused ReLU/ReLU6 clamp.

    Without `axis` the multiplier is 0-d; with `axis = a` it has one entry
    per index of dimension `a` (per-channel weight scales).

    ```mlir
    %codes = qat.requantize %acc, %m, %z, %lo, %hi axis 1
        : tensor<8x16x28x28xi32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[I32]>:$input,
    RankedTensorOf<[F32]>:$multiplier,
    Qat_I32Scalar:$zero_point,
    Qat_I32Scalar:$min,
    Qat_I32Scalar:$max,
    OptionalAttr<Qat_I64Attr>:$axis);
  let results = (outs RankedTensorOf<[I32]>:$output);
  let assemblyFormat = "$input `,` $multiplier `,` $zero_point `,` $min `,` "
    "$max (`axis` $axis^)? attr-dict `:` type($input) `,` type($multiplier)";
  let hasVerifier = 1;
}

def Qat_StraightThroughOp : Qat_Op<"straight_through", [Pure,
    AllTypesMatch<["value", "surrogate", "output"]>]> {
  let summary = "a value whose gradient flows through another";
  let description = [{
    Returns `value`; the gradient of the result goes to `surrogate`, and
    `value` gets none. Target-exact training (`--qat-target-exact`) computes
    each quantized layer's output with the deployed integer arithmetic
    (`value`) while training through the fake-quantized float layer
    (`surrogate`, the straight-through estimator); `--qat-fold-quant` keeps
    `value` only.

    ```mlir
    %y = qat.straight_through %exact, %fake : tensor<8x16x28x28xf32>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[F32]>:$value,
    RankedTensorOf<[F32]>:$surrogate);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let assemblyFormat = "$value `,` $surrogate attr-dict `:` type($output)";
}

//===----------------------------------------------------------------------===//
// Observers
//===----------------------------------------------------------------------===//

class Qat_ObserverBase<string mnemonic, dag extraArgs, string extraFormat>
    : Qat_Op<mnemonic, [Pure,
        AllTypesMatch<["min", "max", "new_min", "new_max"]>]> {
  let arguments = !con((ins
    RankedTensorOf<[F32]>:$input,
    RankedTensorOf<[F32]>:$min,
    RankedTensorOf<[F32]>:$max),
    extraArgs,
    (ins OptionalAttr<Qat_I64Attr>:$axis,
         // The minimum and maximum are those of the global batch of a
         // data-parallel step: qat.all_reduce of the replicas' own, before
         // they are merged into the state (every replica's state stays
         // the same).
         UnitAttr:$across_replicas));
  let results = (outs
    RankedTensorOf<[F32]>:$new_min,
    RankedTensorOf<[F32]>:$new_max);
  let assemblyFormat = "$input `,` $min `,` $max " # extraFormat #
    " (`axis` $axis^)? (`across_replicas` $across_replicas^)? attr-dict `:` "
    "type($input) `,` type($min)";
  let hasVerifier = 1;
}

def Qat_ObserveMinMaxOp : Qat_ObserverBase<"observe_min_max", (ins), ""> {
  let summary = "running minimum and maximum of a tensor";
  let description = [{
    A pure min/max observer: given the state `(min, max)` it returns
    `new_min = minimum(min, reduce_min(input))` and likewise for the maximum,
    over the whole tensor (no `axis`; state is 0-d) or separately for each
    index of dimension `axis` (state is 1-d with that dimension's size).
    Reductions and the combination propagate NaN, as `torch.aminmax` and
    `torch.min` do.

    The unobserved state is `min = +inf, max = -inf`. This matches PyTorch
    1.13's `MinMaxObserver` and `PerChannelMinMaxObserver` (which starts from
    empty tensors; the result after the first observation is the same).

    ```mlir
    %lo, %hi = qat.observe_min_max %x, %min, %max axis 0
        : tensor<16x3x3x8xf32>, tensor<16xf32>
    ```
  }];
}

def Qat_ObserveMovingAverageMinMaxOp
    : Qat_ObserverBase<"observe_moving_average_min_max",
        (ins F32Attr:$averaging_constant),
        "`averaging_constant` $averaging_constant"> {
  let summary = "exponential moving average of a tensor's minimum and maximum";
  let description = [{
    A pure moving-average min/max observer. With `c = averaging_constant`
    (an `f32`), `m = reduce_min(input)` and `M = reduce_max(input)` (per
    tensor, or per index of dimension `axis`):

    ```
    unobserved = (min == +inf) and (max == -inf)
    new_min = unobserved ? m : min + c * (m - min)
    new_max = unobserved ? M : max + c * (M - max)
    ```

    each operation rounded in `f32` (no fused multiply-add), which is PyTorch
    1.13's `MovingAverageMinMaxObserver` and
    `MovingAveragePerChannelMinMaxObserver` bit for bit. The test for the
    unobserved state is made per element.

    ```mlir
    %lo, %hi = qat.observe_moving_average_min_max %x, %min, %max
        averaging_constant 1.000000e-02 : tensor<64x8x28x28xf32>, tensor<f32>
    ```
  }];
}

//===----------------------------------------------------------------------===//
// ChooseQParamsOp
//===----------------------------------------------------------------------===//

def Qat_ChooseQParamsOp : Qat_Op<"choose_qparams", [Pure,
    AllTypesMatch<["min", "max", "scale"]>,
    TypesMatchWith<"zero_point has the shape of min and i32 elements",
                   "min", "zero_point",
                   "::mlir::RankedTensorType::get("
                   "::llvm::cast<::mlir::RankedTensorType>($_self).getShape(),"
                   " ::mlir::IntegerType::get($_self.getContext(), 32))">]> {
  let summary = "scale and zero-point from an observed range";
  let description = [{
    Computes quantization parameters element by element from a range, as
    PyTorch 1.13's observers do in `_calculate_qparams` (all `f32`, each
    operation rounded; `qrange = quant_max - quant_min`):

    ```
    min_neg = minimum(min, 0)        // the range always includes 0
    max_pos = maximum(max, 0)
    affine:
      scale = maximum((max_pos - min_neg) / float(qrange), eps)
      zp    = clamp(quant_min - int(round_half_even(min_neg / scale)),
                    quant_min, quant_max)
    symmetric:
      scale = maximum(maximum(-min_neg, max_pos) / float(qrange / 2), eps)
      zp    = 0                         for signed storage
              (quant_min + quant_max + 1) / 2   for unsigned (128 for [0, 255])
    unobserved (min == +inf and max == -inf): scale = 1, zp = 0
    ```

    That is the default `observer` rule. With `using fake_quant_kernel` the
    op follows instead the C++ `ChooseQuantizationParams` of PyTorch's fused
    fake-quantization kernel (`fused_moving_avg_obs_fake_quant`, used by the
    default QAT qconfigs), computed in f64 and rounded to f32 at the end
    (`eps` is not used):

    ```
    symmetric and min < 0 < max:           // widen to a symmetric range
      s = max(|min / sqmin|, |max / sqmax|)   (f32; sqmin = -(qrange/2 + 1),
      min, max = f32(s * sqmin), f32(s * sqmax)         sqmax = qrange/2)
    min, max = minimum(min, 0), maximum(max, 0)
    scale = (f64(max) - min) / qrange       (f64)
    scale = 0.1         if f32(scale) == 0 or 1 / f32(scale) is infinite
    if scale < 6.1e-5f:                     // PyTorch's small-scale cut-off
      min, max scaled so that their range matches scale = 6.1e-5f
    zp = qmin - min / scale  or  qmax - max / scale  (the one with less error)
    zp = (qmin + qmax) / 2  if symmetric and min < 0 < max
    zp = clamp(round_half_even(zp), qmin, qmax);  scale = f32(scale)
    ```

    `eps` defaults to the `f32` machine epsilon (2^-23), PyTorch's default.
    Per-tensor parameters use 0-d `min`/`max`; per-axis parameters use 1-d.
    The unsigned symmetric zero-point is PyTorch's for its default range
    (PyTorch uses `(quant_min + quant_max) // 2` when a custom range is
    passed).

    ```mlir
    %s, %z = qat.choose_qparams affine %min, %max to ui8[0 : 255]
        : tensor<f32>
    %ws, %wz = qat.choose_qparams symmetric %wmin, %wmax to i8[-128 : 127]
        : tensor<16xf32>
    %ks, %kz = qat.choose_qparams affine %min, %max to ui8[0 : 255]
        using fake_quant_kernel : tensor<f32>
    ```
  }];
  let arguments = !con((ins
    Qat_QuantScheme:$scheme,
    RankedTensorOf<[F32]>:$min,
    RankedTensorOf<[F32]>:$max),
    QuantGridArgs,
    (ins DefaultValuedAttr<F32Attr, "1.1920928955078125e-07">:$eps,
         DefaultValuedAttr<Qat_QParamsRule, "::mlir::qat::QParamsRule::observer">:$rule));
  let results = (outs
    RankedTensorOf<[F32]>:$scale,
    RankedTensorOf<[I32]>:$zero_point);
  let assemblyFormat = "$scheme $min `,` $max `to` $storage_type `` `[` "
    "$quant_min `:` $quant_max `]` (`using` $rule^)? attr-dict `:` type($min)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// DropoutOp
//===----------------------------------------------------------------------===//

def Qat_DropoutOp : Qat_Op<"dropout", [Pure,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "training-mode dropout with counter-based random numbers";
  let description = [{
    Zeroes each element of `input` with probability `probability` and scales
    the others by `1.0f / (1.0f - probability)` (f32), as PyTorch's
    training-mode dropout does. The random numbers are a pure function of
    (`seed`, `stream`, element index): for the element at row-major index
    `i`,

    ```
    h = splitmix64(seed ^ (stream * 0x9E3779B97F4A7C15) ^ splitmix64(i))
    u = (h >> 40) * 2^-24                 // uniform in [0, 1), 24 bits
    output = u < probability ? 0 : input * (1.0f / (1.0f - probability))
    ```

    where `splitmix64(z)` is Vigna's SplitMix64 finalizer
    (`z += 0x9E3779B97F4A7C15; z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9;
    z = (z ^ z >> 27) * 0x94D049BB133111EB; z ^ z >> 31`, wrapping i64).
    So the same seed gives the same mask on any machine and any thread
    count, and each dropout of a model uses its own `stream`. `seed` is a
    0-d i64 tensor: the training driver passes a new one each step.

    ```mlir
    %y = qat.dropout %x, %seed stream 2 probability 5.000000e-01
        : tensor<64x128xf32>, tensor<i64>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[F32]>:$input,
    0DTensorOf<[I64]>:$seed,
    Qat_I64Attr:$stream,
    F32Attr:$probability);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let assemblyFormat = "$input `,` $seed `stream` $stream `probability` "
    "$probability attr-dict `:` type($input) `,` type($seed)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// BatchNormOp
//===----------------------------------------------------------------------===//

def Qat_BatchNormOp : Qat_Op<"batch_norm", [Pure,
    AllTypesMatch<["input", "output"]>,
    AllTypesMatch<["weight", "bias", "running_mean", "running_var",
                   "new_running_mean", "new_running_var"]>]> {
  let summary = "batch normalization over the channel axis (dimension 1)";
  let description = [{
    PyTorch's `F.batch_norm` on an `N x C x ...` tensor, in f32. With
    `training`, it normalizes with the statistics of the batch over all
    dimensions but 1 (`count` values per channel; biased variance) and moves
    the running statistics towards them (unbiased variance):

    ```
    mean  = sum(x) * (1 / count)                  // per channel
    var   = sum((x - mean)^2) * (1 / count)
    y     = (x - mean) * rsqrt(var + epsilon) * weight + bias
    new_running_mean = running_mean * (1 - momentum) + mean * momentum
    new_running_var  = running_var * (1 - momentum)
                       + var * (count / (count - 1)) * momentum
    ```

    (sums over dimension 0, then 2, 3, ... in order; every operation
    rounded to f32; `1 / count` and `count / (count - 1)` are f32
    constants). Without `training` it normalizes with the running
    statistics, which it returns unchanged. The running statistics are the
    model's state, not parameters: they take no gradient.

    With `replicas R` (training only; synchronized batch norm of a
    data-parallel step), the statistics are those of the global batch of
    `R` replicas: both sums are `qat.all_reduce sum` of each replica's
    (rank order), `count` is `R` times the replica's, and the gradient's two
    channel sums are reduced the same way, so the input gradient is the
    global batch's. Every replica then holds the same running statistics.

    It is a qat op rather than a composition of tosa ops so that passes can
    find it: `--qat-prepare` rewrites Conv+BN into PyTorch's QAT ConvBn form
    and deployment folds it into the convolution. `--convert-qat-to-tosa`
    expands it into the formulas above.

    ```mlir
    %y, %mean, %var = qat.batch_norm %x, %w, %b, %rm, %rv training
        epsilon 1.000000e-05 momentum 1.000000e-01
        : tensor<64x16x28x28xf32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[F32]>:$input,
    1DTensorOf<[F32]>:$weight,
    1DTensorOf<[F32]>:$bias,
    1DTensorOf<[F32]>:$running_mean,
    1DTensorOf<[F32]>:$running_var,
    UnitAttr:$training,
    F32Attr:$epsilon,
    F32Attr:$momentum,
    OptionalAttr<Qat_I64Attr>:$replicas);
  let results = (outs
    RankedTensorOf<[F32]>:$output,
    1DTensorOf<[F32]>:$new_running_mean,
    1DTensorOf<[F32]>:$new_running_var);
  let assemblyFormat = "$input `,` $weight `,` $bias `,` $running_mean `,` "
    "$running_var (`training` $training^)? `epsilon` $epsilon `momentum` "
    "$momentum (`replicas` $replicas^)? attr-dict `:` type($input) `,` "
    "type($weight)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Training loss
//===----------------------------------------------------------------------===//

def Qat_SoftmaxCrossEntropyOp : Qat_Op<"softmax_cross_entropy", [Pure]> {
  let summary = "mean softmax cross-entropy of logits against class labels";
  let description = [{
    The classification loss of training, PyTorch's
    `F.cross_entropy(logits, labels)` (reduction `mean`, no weights or label
    smoothing): for `N` rows of `C` logits and one integer label per row,

    ```
    m_n  = max_c logits[n, c]
    loss = (1/N) * sum_n (log(sum_c exp(logits[n, c] - m_n)) + m_n
                          - logits[n, labels[n]])
    ```

    in f32, the sum over rows taken in order and divided by `N` at the end
    (PyTorch's `nll_loss` mean). Subtracting the row maximum keeps `exp`
    finite for any finite logits. Labels must lie in `[0, C)`; the training
    driver checks them, since the op cannot report a bad label at run time
    (an out-of-range label contributes `log(sum exp) + m_n` only).

    Its gradient with respect to the logits is
    `(softmax(logits) - one_hot(labels)) / N` times the incoming gradient;
    the labels are not differentiable.

    ```mlir
    %loss = qat.softmax_cross_entropy %logits, %labels
        : tensor<64x10xf32>, tensor<64xi64> -> tensor<f32>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[F32]>:$logits,
    RankedTensorOf<[AnySignlessInteger]>:$labels);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = "$logits `,` $labels attr-dict `:` type($logits) `,` "
    "type($labels) `->` type($loss)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// GradBoost
//===----------------------------------------------------------------------===//

// 0-d tensors with a fixed element type, so the assembly format needs no
// type for them.
def Qat_I64Scalar : Type<0DTensorOf<[I64]>.predicate, "0-d tensor of i64">,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getI64Type())">;
def Qat_F32Scalar : Type<0DTensorOf<[F32]>.predicate, "0-d tensor of f32">,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getF32Type())">;

def Qat_GradBoostOp : Qat_Op<"grad_boost", [Pure,
    AllTypesMatch<["gradient", "max_stat", "min_stat", "boosted_gradient",
                   "new_max_stat", "new_min_stat"]>]> {
  let summary = "GradBoost: gradient statistics and sign-aligned noise";
  let description = [{
    One parameter's GradBoost update (StatAssist & GradBoost, Kim et al.
    2020), element by element, in f32. With `a = |g|`, `t = step` (the
    number of this update, from 1), `k = qat_steps` (QAT steps before this
    one) and `beta`, `decay`, `clip`, `coin_probability` attributes:

    `reference` variant (the method's code; the correction compounds):
    ```
    max' = (beta * max + (1 - beta) * maximum(max, a)) / (1 - beta^t)
    min' = (beta * min + (1 - beta) * minimum(min, a)) / (1 - beta^t)
    spread = max' - min'
    ```
    `corrected` variant (the stored statistics are moving averages; the
    minimum starts at the first |g|):
    ```
    max' = beta * max + (1 - beta) * maximum(max, a)
    min' = t == 1 ? a : beta * min + (1 - beta) * minimum(min, a)
    spread = max' / (1 - beta^t) - min'
    ```
    Then, where `noise` is non-zero (QAT; zero during the FP warm-up, which
    only updates the statistics):
    ```
    delta = spread * (1 - decay)^k
    n = clamp(-log(u) * delta * (c < coin_probability) * sign(g), -clip, clip)
    boosted = g + n          (else boosted = g)
    ```
    `-log(u)` is |Laplace(0, 1)|. `1 - beta^t` and `(1 - decay)^k` are
    computed in f64 and rounded to f32. `u` (in (0, 1]) and `c` (in
    [0, 1)) are 24-bit uniforms from one counter-based hash of
    (`seed`, `step`, `stream`, element index):
    ```
    h = splitmix64(seed ^ splitmix64(step ^ stream * 0x9E3779B97F4A7C15)
                   ^ splitmix64(index))
    u = ((h >> 40) + 1) * 2^-24,  c = ((h >> 16) & 0xFFFFFF) * 2^-24
    ```
    so the same seed gives the same noise on any machine; each parameter
    has its own `stream`.

    ```mlir
    %g2, %max2, %min2 = qat.grad_boost reference %g, %max, %min
        step %t qat_steps %k seed %seed noise %on stream 3
        {beta = 0.9 : f32, decay = 0.01 : f32, clip = 0.001 : f32,
         coin_probability = 0.5 : f32} : tensor<16x3x3x3xf32>
    ```
  }];
  let arguments = (ins
    Qat_GradBoostVariant:$variant,
    RankedTensorOf<[F32]>:$gradient,
    RankedTensorOf<[F32]>:$max_stat,
    RankedTensorOf<[F32]>:$min_stat,
    Qat_I64Scalar:$step,
    Qat_I64Scalar:$qat_steps,
    Qat_I64Scalar:$seed,
    Qat_F32Scalar:$noise,
    Qat_I64Attr:$stream,
    F32Attr:$beta,
    F32Attr:$decay,
    F32Attr:$clip,
    F32Attr:$coin_probability);
  let results = (outs
    RankedTensorOf<[F32]>:$boosted_gradient,
    RankedTensorOf<[F32]>:$new_max_stat,
    RankedTensorOf<[F32]>:$new_min_stat);
  let assemblyFormat = [{
    $variant $gradient `,` $max_stat `,` $min_stat `step` $step
    `qat_steps` $qat_steps `seed` $seed `noise` $noise `stream` $stream
    attr-dict `:` type($gradient)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Data parallelism
//===----------------------------------------------------------------------===//

def Qat_AllReduceOp : Qat_Op<"all_reduce", [Pure,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "element-wise sum, minimum or maximum over the replicas";
  let description = [{
    In a data-parallel training step every replica (one process, an MPI
    rank) runs the same compiled program on its share of the global batch.
    `qat.all_reduce` returns, on every replica, the element-wise `sum`,
    `min` or `max` of `input` over all replicas; with one replica it is
    `input`.

    Sums are added in rank order, `((x_0 + x_1) + x_2) + ...`, each
    addition rounded to f32, so every replica receives the same bits, and
    so does every run with the same number of replicas. `min` and `max`
    propagate NaN (as `arith.minimumf`).

    The op is `Pure` although it communicates: every replica compiles the
    same program with the same passes, so any rewrite (reordering, CSE,
    removing an unused reduction) happens on all of them alike and they
    still meet in the same reductions in the same order.

    Bufferization turns it into a call of the runtime function
    `qat_all_reduce_f32(rank, descriptor, kind)` on a fresh buffer (an
    unranked memref and the kind's number), which the training driver
    provides. The gradient of a `sum` is the `sum` of the gradients (each
    replica's loss depends on every replica's input); `min` and `max` are
    not differentiated.

    ```mlir
    %global = qat.all_reduce sum %local : tensor<16xf32>
    ```
  }];
  let arguments = (ins
    Qat_ReduceKind:$kind,
    RankedTensorOf<[F32]>:$input);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let assemblyFormat = "$kind $input attr-dict `:` type($input)";
  let builders = [
    OpBuilder<(ins "::mlir::qat::ReduceKind":$kind, "::mlir::Value":$input),
      [{ build($_builder, $_state, input.getType(), kind, input); }]>
  ];
  let hasVerifier = 1;
}

def Qat_ReplicatedParameterOp : Qat_Op<"replicated_parameter", [Pure,
    AllTypesMatch<["parameter", "output"]>]> {
  let summary = "a parameter shared by replicas: its gradient is averaged";
  let description = [{
    Marks the use of a trainable parameter in the forward pass of a
    data-parallel step of `replicas` replicas. The forward value is
    `parameter`. Its gradient is the mean of the replicas' gradients,

    ```
    d parameter = qat.all_reduce sum (d output) * (1 / replicas)
    ```

    (`1 / replicas` rounded to f32), so every replica's optimizer applies
    the gradient of the global batch's mean loss, and GradBoost's statistics
    and noise see that gradient too. It is PyTorch
    `DistributedDataParallel`'s gradient all-reduce, placed where reverse
    differentiation meets it: after every use of the parameter in the
    replica's forward has added its part. Lowering drops it.

    ```mlir
    %w = qat.replicated_parameter %weight replicas 2 : tensor<8x1x3x3xf32>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[F32]>:$parameter,
    Qat_I64Attr:$replicas);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let assemblyFormat = "$parameter `replicas` $replicas attr-dict `:` "
    "type($parameter)";
  let builders = [
    OpBuilder<(ins "::mlir::Value":$parameter, "int64_t":$replicas),
      [{ build($_builder, $_state, parameter.getType(), parameter,
               replicas); }]>
  ];
  let hasVerifier = 1;
}

#endif // QAT_DIALECT_QAT_IR_QATOPS_TD
