//===- Passes.td - what QAT means --------------------------*- tablegen -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_TRANSFORMS_PASSES_TD
#define QAT_DIALECT_QAT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def PreparePass : Pass<"qat-prepare", "::mlir::ModuleOp"> {
  let summary = "Insert fake quantization and observers (PyTorch's prepare_qat)";
  let description = [{
    Makes an imported fp32 model quantization-aware, as PyTorch's eager
    `fuse_modules_qat` + `prepare_qat` would with the qconfig given by the
    options, in every function with `qat.input` arguments (`@forward`,
    `@forward_eval`):

    - each float input is fake-quantized (QuantStub);
    - each layer (a linalg convolution, or the `tosa.matmul` of a linear
      layer) gets its weight fake-quantized before use (`weights`:
      `per-tensor` int8 symmetric [-128, 127], the paper's qnnpack setting,
      or `per-channel` along the output channels) and its output
      fake-quantized after the ops fused with it: the bias add, a
      `qat.batch_norm` (convolutions) and a ReLU/ReLU6 clamp;
    - a residual add of two activations (FloatFunctional.add), with a clamp
      after it, is fake-quantized after it;
    - max pooling, reshapes and average pooling keep their input's grid
      (no observer), as in PyTorch;
    - activations are `uint8` [0, 255] affine (default) or `int8`
      [-128, 127] affine.

    Every fake quantization is PyTorch's FusedMovingAvgObsFakeQuantize: a
    `qat.observe_moving_average_min_max` (constant `averaging-constant`),
    `qat.choose_qparams ... using fake_quant_kernel` and `qat.fake_quant`.
    Its state is new named state (`<layer>.weight_fake_quant.*`,
    `<layer>.activation_post_process.*`, `quant.<input>.*`, `add_<k>.*`:
    `min_val`, `max_val` starting at +inf/-inf, `scale`, `zero_point`)
    with mutable globals, threaded like the model's other state; callers
    such as `@predict` load and store it. In the function named by
    `eval-function` the stored scale and zero-point quantize and no
    observer runs (evaluation does not move the ranges).

    Conv+BN becomes PyTorch's QAT ConvBn form (`_ConvBnNd._forward`): the
    weight is multiplied by `bn.weight / sqrt(running_var + eps)` before its
    fake quantization, the convolution's output (without bias) divided by
    that factor, the bias added, and the batch norm applied with the
    batch's statistics; `freeze-bn-stats` makes it normalize with the
    running statistics instead (PyTorch's `freeze_bn_stats`). The ops are
    those the importer emits for PyTorch's module, so a model prepared here
    and the same model prepared by PyTorch compute the same bits.

    Fails, naming the op, on a layer whose weight is not a trainable
    parameter, and on a function that has fake quantization already.
  }];
  let options = [
    Option<"weights", "weights", "std::string", "\"per-tensor\"",
           "Weight grid: per-tensor or per-channel (int8 symmetric)">,
    Option<"activations", "activations", "std::string", "\"uint8\"",
           "Activation grid: uint8, uint7 ([0, 127]: PyTorch's reduce_range) "
           "or int8 (affine, per tensor)">,
    Option<"averagingConstant", "averaging-constant", "float", "0.01f",
           "Moving-average constant of the observers">,
    Option<"freezeBatchNorm", "freeze-bn-stats", "bool", "false",
           "Conv+BN normalizes with the running statistics">,
    Option<"evalFunction", "eval-function", "std::string",
           "\"forward_eval\"",
           "Function that quantizes with the stored parameters">
  ];
  let dependentDialects = [
    "::mlir::math::MathDialect",
    "::mlir::ml_program::MLProgramDialect",
    "::mlir::tosa::TosaDialect"
  ];
}

def FoldBatchNormPass : Pass<"qat-fold-batchnorm"> {
  let summary = "Fold evaluation-mode batch norm into the layer before it";
  let description = [{
    For deployment: every `qat.batch_norm` without `training` that follows
    a convolution or linear layer (with or without its bias add, each value
    used once) becomes part of that layer, with
    `g = weight * rsqrt(running_var + epsilon)`:

    - a plain layer gets the weight `W * g` (along the output channels,
      dimension 0 of PyTorch's layout) and the bias
      `(b - running_mean) * g + bias`;
    - PyTorch's QAT ConvBn form (from `--qat-prepare`: weight already scaled
      by `gamma / sqrt(running_var + eps)` before its fake quantization,
      output divided by that factor) keeps its weight and loses the
      division: the bias becomes `(b - running_mean) * g + bias`, as
      PyTorch's `convert` computes it.

    The folded values are computed from the parameters in the IR (they are
    function arguments until deployment binds them), so the pass works on
    any module. Batch norms in training mode, or with no layer right before
    them, are left alone.

    ```mlir
    %c = linalg.conv_2d_nchw_fchw ins(%x, %w : ...) outs(%init : ...)
    %y, %m, %v = qat.batch_norm %c, %gamma, %beta, %rm, %rv
        epsilon 1.000000e-05 momentum 1.000000e-01 : ...
    ```
    becomes a convolution with `%w * g` followed by a `tosa.add` of the new
    bias.
  }];
  let dependentDialects = ["::mlir::tosa::TosaDialect"];
}

def TargetExactPass : Pass<"qat-target-exact"> {
  let summary = "Quantized layers output the deployed integer arithmetic";
  let description = [{
    Target-exact training: every quantized convolution (plain, grouped or
    depthwise) or linear layer (fake-quantized input and weight, optional
    per-channel bias, optional ReLU/ReLU6 clamp, fake-quantized output;
    batch norm folded first with `--qat-fold-batchnorm`) and every residual
    addition of two quantized values outputs the result of the integer
    program that `--qat-fold-quant` deploys, computed with the same ops. A
    layer:

    ```
    x   = moved(quantize(input)) - n * z_x;   w = quantize(W) - z_w   (i32)
    acc = conv(x, w) + quantize(bias, s, 0)                   (i32, exact)
    q   = requantize(acc, s * (1 / s_y), z_y, lo, hi)    s = s_x * c * s_w
    y   = straight_through(dequantize(q, s_y, z_y), fake_quant(float layer))
    ```

    where `moved` replays the padding, max pooling, reshapes and average
    pooling between the input's fake quantization and the layer on the
    codes (an average pooling sums codes: `n` its window, `c` its `1/n`). A
    residual addition rescales both inputs to `2 * max(s_a, s_b) / 2^20`,
    adds, and requantizes once (TFLite's form; docs/deployment.md).

    The float layer stays as the surrogate: observers see its values and
    the backward pass differentiates it (the straight-through estimator),
    while every later layer computes on the exact integer results. So the
    trained model's quantized forward and its int8 binary give the same
    codes, element for element. Layers that do not have this form (batch
    norm in training mode between the convolution and its quantization)
    keep their fake-quantized float arithmetic.

    ```mlir
    %c = linalg.conv_2d_nchw_fchw ins(%xq, %wq : ...) outs(%init : ...)
    %b = tosa.add %c, %bias : ...
    %r = tosa.clamp %b {min_val = 0.0 : f32, max_val = 0x7F800000 : f32}
    %y = qat.fake_quant %r, %s, %z to ui8[0 : 255] : ...
    ```
    becomes integer ops ending in `qat.requantize` and `qat.dequantize`,
    and `%y` becomes `qat.straight_through %exact, %y`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tosa::TosaDialect",
  ];
}

def FoldQuantPass : Pass<"qat-fold-quant", "::mlir::ModuleOp"> {
  let summary = "The trained fake-quant graph as an integer program";
  let description = [{
    Creates `@<function>_int8` from the evaluation function of a prepared
    model (`--qat-prepare`, batch norm folded by `--qat-fold-batchnorm`): the
    input is quantized once, every quantized layer and residual addition
    becomes the integer arithmetic of `--qat-target-exact` (i32 codes, i32
    accumulation, i32 bias, fixed-point `qat.requantize` with the fused
    ReLU/ReLU6 clamp; the same rewrite runs on the copy, then only the
    integers are kept), padding, max pooling, reshapes, transposes and
    slices move codes (0.0 padding with the zero-point, -inf padding before
    a max pooling with the lowest code), average pooling sums them into the
    next layer, and only the logits are dequantized. Where the function is
    already target-exact, its integer results are kept as they are, so the
    folded program computes what training computed.

    The new function takes the same arguments and returns the results that
    are not model state. Observers still running in the function (PyTorch's
    `.eval()` leaves them on) are frozen: their ranges are the state's, as
    in PyTorch after `disable_observer`. Weights, biases and multipliers are computed from
    the state arguments in the IR; `qat-compile` evaluates them once with
    the trained values.

    Fails, naming the op, when a value on the way from the input to the
    logits stays in float (an op without an integer form, or a layer whose
    quantization parameters are missing), unless `allow-float` is set.
    With it, such ops stay in float between quantized values ("float
    islands", as PyTorch's converted models run non-quantized modules
    between a DeQuantStub and a QuantStub): their inputs are the
    dequantized codes, exactly the values of the fake-quant forward, and
    the next quantization turns their result back into codes. The pass
    then emits one remark, at the first such op, counting them by op.
  }];
  let options = [
    Option<"function", "function", "std::string", "\"forward_eval\"",
           "The evaluation function to fold">,
    Option<"allowFloat", "allow-float", "bool", "false",
           "Keep ops without an integer form in float between quantized "
           "values, with a remark, rather than fail">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::tosa::TosaDialect",
  ];
}

def RebatchPass : Pass<"qat-rebatch", "::mlir::func::FuncOp"> {
  let summary = "A model function for another batch size";
  let description = [{
    Changes the batch size of a function whose inputs (`qat.input`
    arguments) have the batch as their first dimension: the inputs get
    `batch` rows, and every value computed from them gets the new size in
    the dimension that carries the batch (followed through elementwise ops,
    padding, reshapes, expand/collapse_shape and the loops of linalg ops;
    destination tensors of linalg ops are rebuilt). Models are imported and
    trained at one batch size; deployment wants others (batch 1 for
    latency), and every image is computed independently in evaluation mode,
    so the results per image do not change. Training functions rebatch too:
    observers and batch norms reduce over the batch into state without a
    batch dimension (`qat-train --distributed` gives each rank its share of
    the global batch this way).

    Fails, naming the op, where the batch dimension cannot be followed (a
    reshape that merges the batch with other dimensions, an op that mixes
    images).

    ```mlir
    // qat-opt --qat-rebatch=batch=1: tensor<50x1x28x28xf32> inputs become
    // tensor<1x1x28x28xf32>, the logits tensor<1x10xf32>.
    ```
  }];
  let options = [
    Option<"batch", "batch", "int64_t", "1", "The new batch size (> 0)">,
    ListOption<"functions", "functions", "std::string",
               "Only these functions (default: every function with "
               "qat.input arguments)">
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::tosa::TosaDialect"
  ];
}

#endif // QAT_DIALECT_QAT_TRANSFORMS_PASSES_TD
