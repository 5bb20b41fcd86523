//===- GradientUtils.cpp - building blocks of gradient rules ----*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Gradients/GradientUtils.h"
#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Tosa/Utils/ConversionUtils.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;
using namespace mlir::qat::gradients;

Value gradients::sumOverReplicas(OpBuilder &b, Location loc, Value value,
                                 int64_t replicas) {
  if (replicas == 1)
    return value;
  return AllReduceOp::create(b, loc, ReduceKind::sum, value);
}

Value gradients::channelMean(OpBuilder &b, Location loc, Value value,
                             int64_t replicas) {
  RankedTensorType type = typeOf(value);
  SmallVector<int64_t> shape(type.getShape());
  int64_t count = 1;
  for (int64_t axis = 0; axis < type.getRank(); ++axis) {
    if (axis == 1)
      continue;
    count *= shape[axis];
    shape[axis] = 1;
    value = tosa::ReduceSumOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), value,
        b.getI32IntegerAttr(axis));
  }
  value = sumOverReplicas(b, loc, value, replicas);
  count *= replicas;
  return mul(b, loc, value,
             scalar(b, loc, 1.0f / static_cast<float>(count), type.getRank()));
}

ChannelStatistics gradients::channelStatistics(OpBuilder &b, Location loc,
                                               Value input, int64_t replicas) {
  RankedTensorType type = typeOf(input);
  int64_t count = type.getNumElements() / type.getDimSize(1) * replicas;
  Value mean = channelMean(b, loc, input, replicas);
  Value centered = sub(b, loc, input, mean);
  Value variance =
      channelMean(b, loc, mul(b, loc, centered, centered), replicas);
  return {mean, variance, count};
}

BatchNormalization gradients::normalize(OpBuilder &b, BatchNormOp batchNorm) {
  Location loc = batchNorm.getLoc();
  Value input = batchNorm.getInput();
  int64_t rank = typeOf(input).getRank();
  BatchNormalization result;
  int64_t replicas = batchNorm.getReplicas().value_or(1);
  result.count =
      typeOf(input).getNumElements() / typeOf(input).getDimSize(1) * replicas;
  if (batchNorm.getTraining()) {
    ChannelStatistics stats = channelStatistics(b, loc, input, replicas);
    result.mean = stats.mean;
    result.variance = stats.variance;
  } else {
    result.mean = channelVector(b, loc, batchNorm.getRunningMean(), rank);
    result.variance = channelVector(b, loc, batchNorm.getRunningVar(), rank);
  }
  Value epsilon = scalar(b, loc, batchNorm.getEpsilon().convertToFloat(), rank);
  result.invStd = tosa::RsqrtOp::create(b, loc, typeOf(result.variance),
                                        add(b, loc, result.variance, epsilon));
  result.normalized =
      mul(b, loc, sub(b, loc, input, result.mean), result.invStd);
  return result;
}
