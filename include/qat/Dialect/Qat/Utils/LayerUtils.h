//===- LayerUtils.h - conv and linear layers in imported graphs -*- C++ -*-===//
//
// Part of qat-mlir. How the passes that rewrite layers (--qat-prepare,
// --qat-fold-batchnorm, --qat-fold-quant) recognize the importer's
// convolutions and linear layers and their weights.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_UTILS_LAYERUTILS_H
#define QAT_DIALECT_QAT_UTILS_LAYERUTILS_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

namespace mlir::qat {

/// A linear layer's tosa.matmul or a linalg convolution (pooling ops are
/// convolutions to linalg too, but their body multiplies nothing).
bool isLayerOp(Operation *op);

/// The operand where the layer's weight enters its filter chain: the
/// layer's filter (or matmul right-hand side) seen back through the
/// importer's reshapes, expand_shapes (groups), transposes (linear,
/// transposed convolution) and reverses (transposed convolution).
OpOperand &weightUse(Operation *layer);

/// The axis of the weight at weightUse that holds the layer's output
/// channels: 0 for convolutions and linear layers as PyTorch stores them,
/// 1 for a transposed convolution's C_in x C_out x kh x kw weight. Per
/// output channel quantization and batch-norm folding scale along it.
int64_t weightOutputAxis(Operation *layer);

/// The layer's output in the model's layout: its result, or the single
/// user that reshapes it back (the linear layer's 3-D matmul result to 2-D,
/// a grouped convolution's N x G x C/G x H x W result to N x C x H x W).
Value layerOutput(Operation *layer);

/// `value` seen back through reshapes to a function argument (a bias or
/// other state), or null.
BlockArgument stateArgumentOf(Value value);

/// The only user of `value`, if it has exactly one.
Operation *singleUser(Value value);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_LAYERUTILS_H
