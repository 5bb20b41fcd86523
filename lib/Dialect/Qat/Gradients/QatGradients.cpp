//===- QatGradients.cpp - gradient rules of qat ops -------------*- C++ -*-===//
//
// Part of qat-mlir. DifferentiableOpInterface for the qat ops, attached as
// external models like the upstream ones so that every rule is built from
// the same helpers.
//
//===----------------------------------------------------------------------===//

#include "Registration.h"
#include "qat/Dialect/Qat/Gradients/GradientUtils.h"
#include "qat/Dialect/Qat/IR/QatDialect.h"
#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;
using namespace mlir::qat::gradients;

namespace {

template <typename Derived, typename OpT>
using Model = DifferentiableOpInterface::ExternalModel<Derived, OpT>;

/// The straight-through estimator with the clipping mask: the gradient
/// passes where the quantized level is inside [quant_min, quant_max]
/// (qat.fake_quant_mask), else 0. Scale and zero-point get none.
template <typename OpT>
struct FakeQuantGradient : Model<FakeQuantGradient<OpT>, OpT> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    RankedTensorType type = typeOf(op->getOperand(0));
    auto maskType = RankedTensorType::get(type.getShape(), b.getI1Type());
    Value mask = FakeQuantMaskOp::create(b, op->getLoc(), TypeRange{maskType},
                                         op->getOperands(), op->getAttrs());
    operandGradients[0] =
        selectOrZero(b, op->getLoc(), mask, resultGradients[0]);
    return success();
  }
};

/// Dropout is linear with the same mask and scale for the same seed and
/// stream: its gradient is the dropout of the incoming gradient.
struct DropoutGradient : Model<DropoutGradient, DropoutOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto dropout = cast<DropoutOp>(op);
    operandGradients[0] = DropoutOp::create(
        b, op->getLoc(), TypeRange{dropout.getType()},
        ValueRange{resultGradients[0], dropout.getSeed()}, op->getAttrs());
    return success();
  }
};

/// Batch normalization's gradient with respect to its input, weight and
/// bias (the running statistics are state). With xhat the normalized input,
/// r = rsqrt(var + epsilon) and N the elements per channel:
///   d bias   = sum(g),  d weight = sum(g * xhat)      (per channel)
///   d input  = (g - sum(g) / N - xhat * sum(g * xhat) / N) * (r * w)
/// in training, where the batch statistics depend on the input (PyTorch's
/// form: the two sums are the bias and weight gradients' own, so the input
/// gradient reads g and xhat once more rather than summing g * w again),
/// and d input = g * w * r with the running statistics. Over `replicas`
/// (synchronized batch norm) the input gradient's two sums and N are the
/// global batch's; the weight and bias gradients stay the replica's own
/// parts, which the parameters' gradient reduction adds up.
struct BatchNormGradient : Model<BatchNormGradient, BatchNormOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index <= 2;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto batchNorm = cast<BatchNormOp>(op);
    Value gradient = resultGradients[0];
    if (!gradient)
      return success(); // Only the running statistics were reached.
    Location loc = op->getLoc();
    Value input = batchNorm.getInput();
    RankedTensorType type = typeOf(input);
    if (!type.hasStaticShape())
      return op->emitOpError("has no gradient rule for dynamic shapes");
    int64_t rank = type.getRank(), channels = type.getDimSize(1);
    BatchNormalization normalization = normalize(b, batchNorm);
    Value mean = normalization.mean, invStd = normalization.invStd;
    Value normalized = normalization.normalized;
    RankedTensorType channelType = typeOf(mean);
    Value gradientSum = sumToShape(b, loc, gradient, channelType);
    Value projectionSum =
        sumToShape(b, loc, mul(b, loc, gradient, normalized), channelType);
    operandGradients[1] = reshape(b, loc, projectionSum, {channels});
    operandGradients[2] = reshape(b, loc, gradientSum, {channels});
    Value weight = channelVector(b, loc, batchNorm.getWeight(), rank);
    if (!batchNorm.getTraining()) {
      operandGradients[0] = mul(b, loc, mul(b, loc, gradient, weight), invStd);
      return success();
    }
    int64_t replicas = batchNorm.getReplicas().value_or(1);
    gradientSum = sumOverReplicas(b, loc, gradientSum, replicas);
    projectionSum = sumOverReplicas(b, loc, projectionSum, replicas);
    Value perElement =
        scalar(b, loc, 1.0f / static_cast<float>(normalization.count), rank);
    Value centered =
        sub(b, loc, gradient, mul(b, loc, gradientSum, perElement));
    Value projection =
        mul(b, loc, normalized, mul(b, loc, projectionSum, perElement));
    operandGradients[0] = mul(b, loc, sub(b, loc, centered, projection),
                              mul(b, loc, invStd, weight));
    return success();
  }
};

/// Observers and quantization parameters are statistics, not
/// differentiated (the method's rule; a learned-scale mode would change it).
template <typename OpT>
struct NotDifferentiated : Model<NotDifferentiated<OpT>, OpT> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return false;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    return success();
  }
};

/// The straight-through estimator of target-exact training: the exact
/// integer result is what the layer outputs, the fake-quantized float
/// layer is what it is differentiated as.
struct StraightThroughGradient
    : Model<StraightThroughGradient, StraightThroughOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 1;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    operandGradients[1] = resultGradients[0];
    return success();
  }
};

/// Each replica's loss depends on every replica's input of a sum: the
/// gradient is the sum of the replicas' gradients.
struct AllReduceGradient : Model<AllReduceGradient, AllReduceOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return cast<AllReduceOp>(op).getKind() == ReduceKind::sum;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    if (cast<AllReduceOp>(op).getKind() != ReduceKind::sum)
      return op->emitOpError("has no gradient: only a sum is differentiated");
    operandGradients[0] = AllReduceOp::create(b, op->getLoc(), ReduceKind::sum,
                                              resultGradients[0]);
    return success();
  }
};

/// The mean of the replicas' gradients (the op's description).
struct ReplicatedParameterGradient
    : Model<ReplicatedParameterGradient, ReplicatedParameterOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto parameter = cast<ReplicatedParameterOp>(op);
    Location loc = op->getLoc();
    Value sum =
        AllReduceOp::create(b, loc, ReduceKind::sum, resultGradients[0]);
    float inverse = 1.0f / static_cast<float>(parameter.getReplicas());
    operandGradients[0] =
        mul(b, loc, sum, scalar(b, loc, inverse, typeOf(sum).getRank()));
    return success();
  }
};

/// d loss / d logits = g * (softmax(logits) - one_hot(labels)) / N.
struct SoftmaxCrossEntropyGradient
    : Model<SoftmaxCrossEntropyGradient, SoftmaxCrossEntropyOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto loss = cast<SoftmaxCrossEntropyOp>(op);
    Location loc = op->getLoc();
    Value logits = loss.getLogits();
    RankedTensorType type = typeOf(logits);
    if (!type.hasStaticShape())
      return op->emitOpError("has no gradient rule for dynamic shapes");
    int64_t rows = type.getDimSize(0);
    auto rowType = RankedTensorType::get({rows, 1}, b.getF32Type());
    Value rowMax = tosa::ReduceMaxOp::create(b, loc, rowType, logits,
                                             b.getI32IntegerAttr(1));
    Value exp = tosa::ExpOp::create(b, loc, type, sub(b, loc, logits, rowMax));
    Value sum =
        tosa::ReduceSumOp::create(b, loc, rowType, exp, b.getI32IntegerAttr(1));
    Value softmax =
        mul(b, loc, exp, tosa::ReciprocalOp::create(b, loc, rowType, sum));

    // softmax - one_hot(labels), elementwise with the label of the row.
    MLIRContext *ctx = op->getContext();
    AffineMap full = b.getMultiDimIdentityMap(2);
    AffineMap row = AffineMap::get(2, 0, getAffineDimExpr(0, ctx), ctx);
    Value init =
        tensor::EmptyOp::create(b, loc, type.getShape(), b.getF32Type());
    Value centered =
        linalg::GenericOp::create(
            b, loc, type, ValueRange{softmax, loss.getLabels()}, init,
            ArrayRef<AffineMap>{full, row, full},
            SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
            [](OpBuilder &b, Location loc, ValueRange args) {
              Value label =
                  arith::IndexCastOp::create(b, loc, b.getIndexType(), args[1]);
              Value isLabel = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::eq,
                  linalg::IndexOp::create(b, loc, 1), label);
              Value one =
                  arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
              Value shifted = arith::SubFOp::create(b, loc, args[0], one);
              linalg::YieldOp::create(
                  b, loc,
                  arith::SelectOp::create(b, loc, isLabel, shifted, args[0])
                      .getResult());
            })
            .getResult(0);
    // g / N as a [1, 1] tensor.
    Value g = reshape(b, loc, resultGradients[0], {1, 1});
    Value scaled = mul(b, loc, g, scalar(b, loc, 1.0f / rows, 2));
    operandGradients[0] = mul(b, loc, centered, scaled);
    return success();
  }
};

} // namespace

void mlir::qat::registerQatGradientExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, QatDialect *) {
    FakeQuantOp::attachInterface<FakeQuantGradient<FakeQuantOp>>(*ctx);
    DropoutOp::attachInterface<DropoutGradient>(*ctx);
    BatchNormOp::attachInterface<BatchNormGradient>(*ctx);
    ObserveMinMaxOp::attachInterface<NotDifferentiated<ObserveMinMaxOp>>(*ctx);
    ObserveMovingAverageMinMaxOp::attachInterface<
        NotDifferentiated<ObserveMovingAverageMinMaxOp>>(*ctx);
    ChooseQParamsOp::attachInterface<NotDifferentiated<ChooseQParamsOp>>(*ctx);
    FakeQuantMaskOp::attachInterface<NotDifferentiated<FakeQuantMaskOp>>(*ctx);
    SoftmaxCrossEntropyOp::attachInterface<SoftmaxCrossEntropyGradient>(*ctx);
    StraightThroughOp::attachInterface<StraightThroughGradient>(*ctx);
    QuantizeOp::attachInterface<NotDifferentiated<QuantizeOp>>(*ctx);
    AllReduceOp::attachInterface<AllReduceGradient>(*ctx);
    ReplicatedParameterOp::attachInterface<ReplicatedParameterGradient>(*ctx);
  });
}
