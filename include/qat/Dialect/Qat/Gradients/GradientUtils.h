//===- GradientUtils.h - building blocks of gradient rules ------*- C++ -*-===//
//
// Part of qat-mlir. Batch normalization's training arithmetic, shared by its
// gradient rule (lib/Dialect/Qat/Gradients) and its expansion to tosa
// (--convert-qat-to-tosa).
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_GRADIENTS_GRADIENTUTILS_H
#define QAT_DIALECT_QAT_GRADIENTS_GRADIENTUTILS_H

#include "qat/Dialect/Qat/IR/QatInterfaces.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::qat {
class BatchNormOp;
} // namespace mlir::qat

namespace mlir::qat::gradients {

/// Per-channel (dimension 1) statistics of `input` over all its other
/// dimensions, each of shape 1 x C x 1 ...: sums over dimension 0, then 2,
/// 3, ... in order, times the f32 constant 1 / count. The variance is the
/// biased one, the mean of (input - mean)^2. This is batch normalization's
/// training arithmetic, shared by its expansion and its gradient rule.
/// With `replicas` > 1 the statistics are the global batch's of that many
/// data-parallel replicas: each sum is `qat.all_reduce sum` of the
/// replica's, and `count` counts every replica's values.
struct ChannelStatistics {
  Value mean, variance;
  int64_t count;
};
ChannelStatistics channelStatistics(OpBuilder &b, Location loc, Value input,
                                    int64_t replicas = 1);
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
/// 1, shaped 1 x C x 1 ..., as in `channelStatistics` (over `replicas`).
Value channelMean(OpBuilder &b, Location loc, Value value,
                  int64_t replicas = 1);
/// `qat.all_reduce sum` of `value` over `replicas`; `value` itself for one.
Value sumOverReplicas(OpBuilder &b, Location loc, Value value,
                      int64_t replicas);
} // namespace mlir::qat::gradients

#endif // QAT_DIALECT_QAT_GRADIENTS_GRADIENTUTILS_H
