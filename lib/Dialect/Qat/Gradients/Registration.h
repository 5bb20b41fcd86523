//===- Registration.h - per-dialect gradient rule registration --*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Dialect/Qat/Gradients: one function per
// file of rules, called by registerGradientExternalModels.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_DIALECT_QAT_GRADIENTS_REGISTRATION_H
#define QAT_LIB_DIALECT_QAT_GRADIENTS_REGISTRATION_H

namespace mlir {
class DialectRegistry;
namespace qat {
void registerTosaGradientExternalModels(DialectRegistry &registry);
void registerLinalgGradientExternalModels(DialectRegistry &registry);
void registerTensorGradientExternalModels(DialectRegistry &registry);
void registerMathGradientExternalModels(DialectRegistry &registry);
void registerQatGradientExternalModels(DialectRegistry &registry);
} // namespace qat
} // namespace mlir

#endif // QAT_LIB_DIALECT_QAT_GRADIENTS_REGISTRATION_H
