//===- Passes.td - qat conversion passes -------------------*- tablegen -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_CONVERSION_PASSES_TD
#define QAT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQatToLinalg : Pass<"convert-qat-to-linalg"> {
  let summary = "Lower qat ops to linalg, arith, math and tensor ops";
  let description = [{
    Rewrites every `qat` op into upstream ops on tensors, keeping its exact
    numerics: `qat.fake_quant` and `qat.fake_quant_mask` become one
    elementwise `linalg.generic` (after a small one that inverts the scale),
    observers a reduction `linalg.generic` followed by an elementwise one that
    merges the old state, and `qat.choose_qparams` an elementwise
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

#endif // QAT_CONVERSION_PASSES_TD
