//===- MathGradients.cpp - gradient rules of math ops -----------*- C++ -*-===//
//
// Part of qat-mlir. External models of DifferentiableOpInterface for the
// math ops on tensors the importer emits where tosa has no op (sqrt).
//
//===----------------------------------------------------------------------===//

#include "Registration.h"
#include "qat/Dialect/Qat/Gradients/GradientUtils.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;
using namespace mlir::qat::gradients;

namespace {

/// d sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / y.
struct SqrtGradient
    : DifferentiableOpInterface::ExternalModel<SqrtGradient, math::SqrtOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    Value y = op->getResult(0);
    auto type = dyn_cast<RankedTensorType>(y.getType());
    if (!type)
      return op->emitOpError("has a gradient rule for tensors only");
    Value inverse = tosa::ReciprocalOp::create(b, loc, type, y);
    operandGradients[0] =
        mul(b, loc, resultGradients[0],
            mul(b, loc, scalar(b, loc, 0.5f, type.getRank()), inverse));
    return success();
  }
};

} // namespace

void mlir::qat::registerMathGradientExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, math::MathDialect *) {
    math::SqrtOp::attachInterface<SqrtGradient>(*ctx);
  });
}
