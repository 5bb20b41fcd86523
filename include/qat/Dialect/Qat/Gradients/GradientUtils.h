//===- GradientUtils.h - building blocks of gradient rules ------*- C++ -*-===//
//
// Part of qat-mlir. Used by the gradient rules (lib/Dialect/Qat/Gradients)
// and by the passes that build training arithmetic in tosa.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_GRADIENTS_GRADIENTUTILS_H
#define QAT_DIALECT_QAT_GRADIENTS_GRADIENTUTILS_H

#include "qat/Dialect/Qat/IR/QatInterfaces.h"

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::qat {
class BatchNormOp;
} // namespace mlir::qat

namespace mlir::qat::gradients {

inline RankedTensorType typeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// A tosa.const f32 splat of rank `rank` with every dimension 1, which tosa
/// elementwise ops broadcast.
Value scalar(OpBuilder &b, Location loc, float value, int64_t rank);
/// A zero-filled f32 tensor of `type`.
Value zeros(OpBuilder &b, Location loc, RankedTensorType type);

/// tosa elementwise arithmetic with broadcasting; the result has the
/// broadcast shape.
Value add(OpBuilder &b, Location loc, Value lhs, Value rhs);
Value sub(OpBuilder &b, Location loc, Value lhs, Value rhs);
Value mul(OpBuilder &b, Location loc, Value lhs, Value rhs);
/// `ifTrue` where `condition` (i1) holds, else 0.
Value selectOrZero(OpBuilder &b, Location loc, Value condition, Value ifTrue);

/// The gradient of a broadcast operand: `gradient` summed over the
/// dimensions where `target` has size 1 and `gradient` does not.
Value sumToShape(OpBuilder &b, Location loc, Value gradient,
                 RankedTensorType target);
/// `value` repeated along its size-1 dimensions to `target`'s shape.
Value broadcastTo(OpBuilder &b, Location loc, Value value,
                  RankedTensorType target);
/// tosa.reshape of `value` to `shape`.
Value reshape(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> shape);

/// A linalg.generic over `numLoops` loops that sums the product of the
/// first `numFactors` of `inputs` (each read through its map in
/// `inputMaps`) into a zero tensor of `resultType` read and written through
/// `resultMap`; the remaining inputs only give loop extents. Loops that are
/// a plain result of `resultMap` are parallel, all others reductions. The
/// result map may combine loops (`oh * stride + kh`): each product is then
/// added to the element it names, which is how input gradients of
/// convolutions and pooling scatter back into their windows.
Value contract(OpBuilder &b, Location loc, ValueRange inputs,
               ArrayRef<AffineMap> inputMaps, unsigned numFactors,
               RankedTensorType resultType, AffineMap resultMap);

/// Whether `op` is a linalg op with two inputs and one init whose body is
/// `out + in0 * in1` in floating point (either order): what `contract`
/// builds with two factors, and what convolutions and matmuls compute.
bool isMulAdd(Operation *op);

/// Per-channel (dimension 1) statistics of `input` over all its other
/// dimensions, each of shape 1 x C x 1 ...: sums over dimension 0, then 2,
/// 3, ... in order, times the f32 constant 1 / count. The variance is the
/// biased one, the mean of (input - mean)^2. This is batch normalization's
/// training arithmetic, shared by its expansion and its gradient rule.
struct ChannelStatistics {
  Value mean, variance;
  int64_t count;
};
ChannelStatistics channelStatistics(OpBuilder &b, Location loc, Value input);
/// What `batchNorm` normalizes with, each shaped 1 x C x 1 ...: the
/// batch's statistics in training (`channelStatistics`), else its running
/// ones; `invStd` = rsqrt(variance + epsilon) and `normalized` = (input -
/// mean) * invStd. Shared by its expansion and its gradient rule.
struct BatchNormalization {
  Value mean, variance, invStd, normalized;
  int64_t count;
};
BatchNormalization normalize(OpBuilder &b, BatchNormOp batchNorm);
/// The per-channel mean of `value` (any rank >= 2) over all dimensions but
/// 1, shaped 1 x C x 1 ..., as in `channelStatistics`.
Value channelMean(OpBuilder &b, Location loc, Value value);
/// A C-vector reshaped to 1 x C x 1 ... of rank `rank`, which broadcasts
/// along dimension 1 of an N x C x ... tensor.
Value channelVector(OpBuilder &b, Location loc, Value vector, int64_t rank);
} // namespace mlir::qat::gradients

#endif // QAT_DIALECT_QAT_GRADIENTS_GRADIENTUTILS_H
