//===- QatInterfaces.td - qat op interfaces ----------------*- tablegen -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATINTERFACES_TD
#define QAT_DIALECT_QAT_IR_QATINTERFACES_TD

include "mlir/IR/OpBase.td"

def Qat_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::qat";
  let description = [{
    An op that knows its own vector-Jacobian product (VJP): given the
    gradients of the loss with respect to its results, it builds the ops
    that compute the gradients with respect to its operands. The
    `--qat-generate-backward` pass walks a function in reverse and asks each
    op on the path from the trainable parameters to the loss; it knows no op
    by name, so an op gains automatic differentiation by implementing this
    interface (upstream ops get it through external models, registered by
    `registerGradientExternalModels`).
  }];
  let methods = [
    InterfaceMethod<[{
        Whether a gradient flows into operand `index`. Operands that only
        select or parameterize the computation (scales and zero-points of
        fake quantization, observer state, seeds, shapes) say no, so the
        pass does not look for a path through them.
      }],
      "bool", "isDifferentiableOperand", (ins "unsigned":$index), [{}],
      [{
        return ::llvm::isa<::mlir::FloatType>(::mlir::getElementTypeOrSelf(
            $_op->getOperand(index).getType()));
      }]>,
    InterfaceMethod<[{
        Builds the gradients of the operands at `builder`'s insertion point.
        `resultGradients` has one entry per result, null where no gradient
        reaches that result (at least one is set). Fills `operandGradients`
        with one entry per operand, of the operand's type, null for operands
        that are not differentiable. Fails with a diagnostic on the op when
        it cannot differentiate this instance.
      }],
      "::llvm::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGradients,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGradients)>
  ];
}

#endif // QAT_DIALECT_QAT_IR_QATINTERFACES_TD
