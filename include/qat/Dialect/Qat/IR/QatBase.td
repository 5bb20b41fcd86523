//===- QatBase.td - qat dialect definition -----------------*- tablegen -*-===//
//
// Part of qat-mlir. The `qat` dialect: fake quantization, observers and
// quantization parameters for quantization-aware training.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATBASE_TD
#define QAT_DIALECT_QAT_IR_QATBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Qat_Dialect : Dialect {
  let name = "qat";
  let cppNamespace = "::mlir::qat";
  let summary = "Quantization-aware training: fake quantization, observers "
                "and quantization parameters";
  let description = [{
    The `qat` dialect holds what upstream MLIR lacks for quantization-aware
    training (QAT): fake quantization with dynamic scale and zero-point
    operands, range observers as pure functions of their state, and the
    computation of quantization parameters from an observed range.

    All ops work on ranked tensors and have value semantics. State (observer
    min/max) is passed in and returned explicitly, never hidden, so a training
    step built from these ops is a pure function of its inputs.

    Numerics follow PyTorch 1.13 bit for bit on `f32` (see each op). Ops lower
    to `linalg`, `arith` and `math` with `--convert-qat-to-linalg`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

class Qat_Op<string mnemonic, list<Trait> traits = []>
    : Op<Qat_Dialect, mnemonic, traits>;

def Qat_QuantScheme : I32EnumAttr<"QuantScheme",
    "how quantization parameters are derived from a range", [
      I32EnumAttrCase<"affine", 0>,
      I32EnumAttrCase<"symmetric", 1>
    ]> {
  let cppNamespace = "::mlir::qat";
}

def Qat_QParamsRule : I32EnumAttr<"QParamsRule",
    "which of PyTorch's two algorithms derives quantization parameters", [
      // torch.ao.quantization observers' _calculate_qparams (Python, f32).
      I32EnumAttrCase<"observer", 0>,
      // quant_utils::ChooseQuantizationParams (C++, f64), used by the fused
      // fake-quantization kernel fused_moving_avg_obs_fake_quant.
      I32EnumAttrCase<"fake_quant_kernel", 1>
    ]> {
  let cppNamespace = "::mlir::qat";
}

def Qat_GradBoostVariant : I32EnumAttr<"GradBoostVariant",
    "how GradBoost corrects the bias of its gradient statistics", [
      // The method's reference code: the statistics are divided by
      // 1 - beta^t every step and the quotient is stored (it compounds).
      I32EnumAttrCase<"reference", 0>,
      // Adam-style: the stored statistics are plain moving averages, the
      // correction is applied only where they are used; the minimum starts
      // at the first |g| rather than 0.
      I32EnumAttrCase<"corrected", 1>
    ]> {
  let cppNamespace = "::mlir::qat";
}

def Qat_ReduceKind : I32EnumAttr<"ReduceKind",
    "how qat.all_reduce combines the replicas' values", [
      I32EnumAttrCase<"sum", 0>,
      I32EnumAttrCase<"min", 1>,
      I32EnumAttrCase<"max", 2>
    ]> {
  let cppNamespace = "::mlir::qat";
}

#endif // QAT_DIALECT_QAT_IR_QATBASE_TD
