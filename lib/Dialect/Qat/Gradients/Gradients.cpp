//===- Gradients.cpp - registering the gradient rules -----------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Gradients/Gradients.h"
#include "Registration.h"

#include "mlir/IR/DialectRegistry.h"

void mlir::qat::registerGradientExternalModels(DialectRegistry &registry) {
  registerTosaGradientExternalModels(registry);
  registerLinalgGradientExternalModels(registry);
  registerTensorGradientExternalModels(registry);
  registerMathGradientExternalModels(registry);
  registerQatGradientExternalModels(registry);
}
