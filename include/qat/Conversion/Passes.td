//===- Passes.td - qat conversion passes -------------------*- tablegen -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_CONVERSION_PASSES_TD
#define QAT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQatToLinalgPass : Pass<"convert-qat-to-linalg"> {
  let summary = "Lower qat ops to linalg, arith, math and tensor ops";
  let description = [{
    Rewrites every `qat` op into upstream ops on tensors, keeping its exact
    numerics: `qat.fake_quant` and `qat.fake_quant_mask` become one
    elementwise `linalg.generic` (after a small one that inverts the scale),
    observers a reduction `linalg.generic` followed by an elementwise one that
    merges the old state (with `qat.all_reduce min` and `max` of the
    reduced range between them for `across_replicas`; `qat.all_reduce`
    itself stays, for bufferization), and `qat.choose_qparams` an elementwise
    `linalg.generic`. Rounding is `math.roundeven`; no fast-math flags are set,
    so later lowering keeps every `f32` operation rounded separately.

    Upstream has no op with PyTorch's fake-quantization semantics (dynamic
    scale and zero-point, f32 inverse scale, clamp of the integer level):
    `tosa` and `quant` model real quantized types, not their simulation.

    Example:

    ```mlir
    %y = qat.fake_quant %x, %s, %z to ui8[0 : 255]
        : tensor<4xf32>, tensor<f32>, tensor<i32>
    ```
    becomes a `linalg.generic` whose body multiplies by the inverse scale,
    rounds half to even, adds the zero-point, clamps and scales back.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def ConvertQatToTosaPass : Pass<"convert-qat-to-tosa"> {
  let summary = "Expand qat ops that are compositions of tosa arithmetic";
  let description = [{
    Rewrites `qat.batch_norm` into the tosa ops of its formulas (per-channel
    sums, `tosa.rsqrt`, broadcast multiply and add, and the running-statistic
    update in training mode), so that `--qat-lower-to-llvm` lowers it with
    the rest of the tosa graph. The op exists in the dialect only so that
    passes can find batch normalization (to rewrite Conv+BN into its QAT form
    or fold it); its arithmetic is plain tosa.

    ```mlir
    %y, %m, %v = qat.batch_norm %x, %w, %b, %rm, %rv training
        epsilon 1.000000e-05 momentum 1.000000e-01
        : tensor<8x4x5x5xf32>, tensor<4xf32>
    ```
    becomes `tosa.reduce_sum` over dimensions 0, 2 and 3, `tosa.mul`,
    `tosa.sub`, `tosa.rsqrt`, `tosa.add` and `tosa.reshape` ops (and a
    `qat.all_reduce sum` after each per-channel sum of a synchronized batch
    norm, `replicas R`). A `qat.replicated_parameter`, whose gradient has
    been built by then, becomes its parameter.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::tosa::TosaDialect"
  ];
}

#endif // QAT_CONVERSION_PASSES_TD
