//===- Gradients.h - gradient rules of upstream and qat ops -----*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_GRADIENTS_GRADIENTS_H
#define QAT_DIALECT_QAT_GRADIENTS_GRADIENTS_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::qat {

/// Attaches DifferentiableOpInterface to every op the importer and the qat
/// dialect produce: tosa elementwise, reduction, shape and matmul ops; linalg
/// convolution and pooling; tensor pad and reshapes; qat fake quantization,
/// dropout, observers and the loss.
void registerGradientExternalModels(DialectRegistry &registry);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_GRADIENTS_GRADIENTS_H
