//===- QatOps.cpp - qat dialect operations ----------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qat;

#include "qat/Dialect/Qat/IR/QatEnums.cpp.inc"

#define GET_OP_CLASSES
#include "qat/Dialect/Qat/IR/QatOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared verification
//===----------------------------------------------------------------------===//

namespace {

/// Checks that `storageType` is an integer type of 1 to `maxWidth` bits and
/// that [qmin, qmax] is a non-empty range inside it. Signless integers are
/// signed.
LogicalResult verifyQuantGrid(Operation *op, Type storageType, int64_t qmin,
                              int64_t qmax, unsigned maxWidth = 8) {
  auto intType = dyn_cast<IntegerType>(storageType);
  if (!intType || intType.getWidth() == 0 || intType.getWidth() > maxWidth)
    return op->emitOpError("storage type must be an integer type of 1 to ")
           << maxWidth << " bits, got " << storageType;
  if (qmin >= qmax)
    return op->emitOpError("quant_min (")
           << qmin << ") must be less than quant_max (" << qmax << ")";
  unsigned width = intType.getWidth();
  int64_t lowest = intType.isUnsigned() ? 0 : -(int64_t(1) << (width - 1));
  int64_t highest = intType.isUnsigned() ? (int64_t(1) << width) - 1
                                         : (int64_t(1) << (width - 1)) - 1;
  if (qmin < lowest || qmax > highest)
    return op->emitOpError("range [")
           << qmin << ", " << qmax << "] does not fit storage type "
           << storageType << " ([" << lowest << ", " << highest << "])";
  return success();
}

LogicalResult verifyAxis(Operation *op, std::optional<int64_t> axis,
                         int64_t rank) {
  if (axis && (*axis < 0 || *axis >= rank))
    return op->emitOpError("axis ")
           << *axis << " is out of range for an input of rank " << rank;
  return success();
}

/// Checks the shape of a per-tensor (0-d) or per-axis (1-d, one entry per
/// index of `inputType`'s dimension `axis`) parameter or state tensor.
LogicalResult verifyParamShape(Operation *op, StringRef name, Type paramType,
                               RankedTensorType inputType,
                               std::optional<int64_t> axis) {
  auto type = cast<RankedTensorType>(paramType);
  if (!axis) {
    if (type.getRank() != 0)
      return op->emitOpError()
             << name << " must be a 0-d tensor when no axis is given, got "
             << type;
    return success();
  }
  if (type.getRank() != 1)
    return op->emitOpError()
           << name << " must be a 1-d tensor when an axis is given, got "
           << type;
  int64_t expected = inputType.getDimSize(*axis);
  int64_t actual = type.getDimSize(0);
  if (!ShapedType::isDynamic(expected) && !ShapedType::isDynamic(actual) &&
      expected != actual)
    return op->emitOpError()
           << name << " has " << actual << " entries but dimension " << *axis
           << " of the input has " << expected;
  return success();
}

/// Where the scale is a constant, every entry must be positive and finite.
LogicalResult verifyConstantScale(Operation *op, Value scale) {
  DenseFPElementsAttr values;
  if (!matchPattern(scale, m_Constant(&values)))
    return success();
  int64_t index = 0;
  for (APFloat value : values.getValues<APFloat>()) {
    if (!value.isFiniteNonZero() || value.isNegative())
      return op->emitOpError("scale must be positive and finite, got ")
             << value.convertToDouble() << " at index " << index;
    ++index;
  }
  return success();
}

/// Where the zero-point is a constant, every entry must lie in the range.
LogicalResult verifyConstantZeroPoint(Operation *op, Value zeroPoint,
                                      int64_t qmin, int64_t qmax) {
  DenseIntElementsAttr values;
  if (!matchPattern(zeroPoint, m_Constant(&values)))
    return success();
  int64_t index = 0;
  for (const APInt &value : values.getValues<APInt>()) {
    int64_t zp = value.getSExtValue();
    if (zp < qmin || zp > qmax)
      return op->emitOpError("zero_point ")
             << zp << " at index " << index << " is outside [" << qmin << ", "
             << qmax << "]";
    ++index;
  }
  return success();
}

template <typename FakeQuantLikeOp>
LogicalResult verifyFakeQuantLike(FakeQuantLikeOp op) {
  Operation *operation = op.getOperation();
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  std::optional<int64_t> axis = op.getAxis();
  int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
  if (failed(verifyQuantGrid(operation, op.getStorageType(), qmin, qmax)) ||
      failed(verifyAxis(operation, axis, inputType.getRank())) ||
      failed(verifyParamShape(operation, "scale", op.getScale().getType(),
                              inputType, axis)) ||
      failed(verifyParamShape(operation, "zero_point",
                              op.getZeroPoint().getType(), inputType, axis)) ||
      failed(verifyConstantScale(operation, op.getScale())) ||
      failed(verifyConstantZeroPoint(operation, op.getZeroPoint(), qmin, qmax)))
    return failure();
  return success();
}

template <typename ObserverOp> LogicalResult verifyObserver(ObserverOp op) {
  Operation *operation = op.getOperation();
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  std::optional<int64_t> axis = op.getAxis();
  if (failed(verifyAxis(operation, axis, inputType.getRank())) ||
      failed(verifyParamShape(operation, "min/max state", op.getMin().getType(),
                              inputType, axis)))
    return failure();
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Op verifiers
//===----------------------------------------------------------------------===//

LogicalResult FakeQuantOp::verify() { return verifyFakeQuantLike(*this); }

LogicalResult FakeQuantMaskOp::verify() { return verifyFakeQuantLike(*this); }

/// Integer codes keep the shape of what they encode.
static LogicalResult verifySameShape(Operation *op, Value input, Value output) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto outputType = cast<RankedTensorType>(output.getType());
  if (inputType.getShape() != outputType.getShape())
    return op->emitOpError("result shape ")
           << outputType << " differs from the input shape " << inputType;
  return success();
}

LogicalResult QuantizeOp::verify() {
  Operation *operation = getOperation();
  auto inputType = cast<RankedTensorType>(getInput().getType());
  int64_t qmin = getQuantMin(), qmax = getQuantMax();
  if (failed(verifyQuantGrid(operation, getStorageType(), qmin, qmax,
                             /*maxWidth=*/32)) ||
      failed(verifySameShape(operation, getInput(), getOutput())) ||
      failed(verifyAxis(operation, getAxis(), inputType.getRank())) ||
      failed(verifyParamShape(operation, "scale", getScale().getType(),
                              inputType, getAxis())) ||
      failed(verifyParamShape(operation, "zero_point", getZeroPoint().getType(),
                              inputType, getAxis())) ||
      failed(verifyConstantScale(operation, getScale())) ||
      failed(verifyConstantZeroPoint(operation, getZeroPoint(), qmin, qmax)))
    return failure();
  return success();
}

LogicalResult DequantizeOp::verify() {
  Operation *operation = getOperation();
  auto inputType = cast<RankedTensorType>(getInput().getType());
  if (failed(verifySameShape(operation, getInput(), getOutput())) ||
      failed(verifyAxis(operation, getAxis(), inputType.getRank())) ||
      failed(verifyParamShape(operation, "scale", getScale().getType(),
                              inputType, getAxis())) ||
      failed(verifyParamShape(operation, "zero_point", getZeroPoint().getType(),
                              inputType, getAxis())) ||
      failed(verifyConstantScale(operation, getScale())))
    return failure();
  return success();
}

LogicalResult RequantizeOp::verify() {
  Operation *operation = getOperation();
  auto inputType = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyAxis(operation, getAxis(), inputType.getRank())) ||
      failed(verifyParamShape(operation, "multiplier",
                              getMultiplier().getType(), inputType, getAxis())))
    return failure();
  DenseFPElementsAttr multipliers;
  if (matchPattern(getMultiplier(), m_Constant(&multipliers))) {
    int64_t index = 0;
    for (APFloat value : multipliers.getValues<APFloat>()) {
      if (!value.isFiniteNonZero() || value.isNegative() ||
          value.convertToDouble() >= 0x1p23)
        return emitOpError("multiplier must be positive, finite and below "
                           "2^23, got ")
               << value.convertToDouble() << " at index " << index;
      ++index;
    }
  }
  DenseIntElementsAttr lo, hi;
  if (matchPattern(getMin(), m_Constant(&lo)) &&
      matchPattern(getMax(), m_Constant(&hi)) &&
      (*lo.getValues<APInt>().begin()).getSExtValue() >
          (*hi.getValues<APInt>().begin()).getSExtValue())
    return emitOpError("min ")
           << (*lo.getValues<APInt>().begin()).getSExtValue()
           << " is greater than max "
           << (*hi.getValues<APInt>().begin()).getSExtValue();
  return success();
}

LogicalResult ObserveMinMaxOp::verify() { return verifyObserver(*this); }

LogicalResult ObserveMovingAverageMinMaxOp::verify() {
  float constant = getAveragingConstant().convertToFloat();
  if (!(constant > 0.0f && constant <= 1.0f))
    return emitOpError("averaging_constant must be in (0, 1], got ")
           << constant;
  return verifyObserver(*this);
}

LogicalResult ChooseQParamsOp::verify() {
  float eps = getEps().convertToFloat();
  if (!(eps > 0.0f && std::isfinite(eps)))
    return emitOpError("eps must be positive and finite, got ") << eps;
  return verifyQuantGrid(getOperation(), getStorageType(), getQuantMin(),
                         getQuantMax());
}

LogicalResult DropoutOp::verify() {
  float probability = getProbability().convertToFloat();
  if (!(probability >= 0.0f && probability < 1.0f))
    return emitOpError("probability must be in [0, 1), got ") << probability;
  return success();
}

LogicalResult BatchNormOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto channelType = cast<RankedTensorType>(getWeight().getType());
  if (inputType.getRank() < 2)
    return emitOpError("input must have rank 2 or more (N x C x ...), got ")
           << inputType;
  int64_t channels = inputType.getDimSize(1);
  int64_t entries = channelType.getDimSize(0);
  if (!ShapedType::isDynamic(channels) && !ShapedType::isDynamic(entries) &&
      channels != entries)
    return emitOpError("input has ")
           << channels << " channels but the per-channel operands have "
           << entries << " entries";
  float epsilon = getEpsilon().convertToFloat();
  float momentum = getMomentum().convertToFloat();
  if (!(epsilon >= 0.0f) || std::isinf(epsilon))
    return emitOpError("epsilon must be finite and not negative, got ")
           << epsilon;
  if (!(momentum >= 0.0f && momentum <= 1.0f))
    return emitOpError("momentum must be in [0, 1], got ") << momentum;
  if (std::optional<int64_t> replicas = getReplicas()) {
    if (*replicas < 1)
      return emitOpError("replicas must be at least 1, got ") << *replicas;
    if (!getTraining())
      return emitOpError("replicas synchronize the batch statistics of "
                         "training; this batch norm uses its running ones");
  }
  if (getTraining() && inputType.hasStaticShape() &&
      inputType.getNumElements() / channels < 2)
    return emitOpError("in training mode needs more than one value per "
                       "channel, got ")
           << inputType;
  return success();
}

LogicalResult AllReduceOp::verify() {
  // The runtime reduces a contiguous buffer of a known element count.
  if (!getInput().getType().hasStaticShape())
    return emitOpError("needs a static shape, got ") << getInput().getType();
  return success();
}

LogicalResult ReplicatedParameterOp::verify() {
  if (getReplicas() < 1)
    return emitOpError("replicas must be at least 1, got ") << getReplicas();
  return success();
}

LogicalResult SoftmaxCrossEntropyOp::verify() {
  auto logitsType = cast<RankedTensorType>(getLogits().getType());
  auto labelsType = cast<RankedTensorType>(getLabels().getType());
  if (logitsType.getRank() != 2)
    return emitOpError("logits must be a rank-2 tensor (rows x classes), got ")
           << logitsType;
  if (labelsType.getRank() != 1)
    return emitOpError("labels must be a rank-1 tensor (one per row), got ")
           << labelsType;
  int64_t rows = logitsType.getDimSize(0), labels = labelsType.getDimSize(0);
  if (!ShapedType::isDynamic(rows) && !ShapedType::isDynamic(labels) &&
      rows != labels)
    return emitOpError("has ")
           << rows << " rows of logits but " << labels << " labels";
  return success();
}

LogicalResult GradBoostOp::verify() {
  float beta = getBeta().convertToFloat();
  float decay = getDecay().convertToFloat();
  float clip = getClip().convertToFloat();
  float coin = getCoinProbability().convertToFloat();
  if (!(beta >= 0.0f && beta < 1.0f))
    return emitOpError("beta must be in [0, 1), got ") << beta;
  if (!(decay >= 0.0f && decay < 1.0f))
    return emitOpError("decay must be in [0, 1), got ") << decay;
  if (!(clip >= 0.0f) || std::isinf(clip))
    return emitOpError("clip must be finite and not negative, got ") << clip;
  if (!(coin >= 0.0f && coin <= 1.0f))
    return emitOpError("coin_probability must be in [0, 1], got ") << coin;
  return success();
}
