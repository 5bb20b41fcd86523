//===- TosaGradients.cpp - gradient rules of tosa ops -----------*- C++ -*-===//
//
// Part of qat-mlir. External models of DifferentiableOpInterface for the
// tosa ops the importer emits. Broadcast operands receive their gradient
// summed over the broadcast dimensions.
//
//===----------------------------------------------------------------------===//

#include "Registration.h"
#include "qat/Dialect/Qat/Gradients/GradientUtils.h"
#include "qat/Dialect/Qat/Gradients/Gradients.h"

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

/// Elementwise ops of one operand whose gradient is g * f(x, y).
template <typename OpT> struct UnaryGradient : Model<UnaryGradient<OpT>, OpT> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    Value g = resultGradients[0], x = op->getOperand(0), y = op->getResult(0);
    int64_t rank = typeOf(x).getRank();
    Value local;
    if (isa<tosa::ExpOp>(op)) // d exp(x) = exp(x)
      local = y;
    else if (isa<tosa::LogOp>(op)) // d log(x) = 1 / x
      local = tosa::ReciprocalOp::create(b, loc, typeOf(x), x);
    else if (isa<tosa::ReciprocalOp>(op)) // d (1/x) = -y^2
      local = mul(b, loc, scalar(b, loc, -1.0f, rank), mul(b, loc, y, y));
    else if (isa<tosa::RsqrtOp>(op)) // d x^-1/2 = -1/2 y^3
      local = mul(b, loc, scalar(b, loc, -0.5f, rank),
                  mul(b, loc, y, mul(b, loc, y, y)));
    else if (isa<tosa::TanhOp>(op)) // 1 - y^2
      local = sub(b, loc, scalar(b, loc, 1.0f, rank), mul(b, loc, y, y));
    else if (isa<tosa::SigmoidOp>(op)) // y (1 - y)
      local = mul(b, loc, y, sub(b, loc, scalar(b, loc, 1.0f, rank), y));
    else
      return op->emitOpError("has no gradient rule");
    operandGradients[0] = mul(b, loc, g, local);
    return success();
  }
};

/// |x|: g * sign(x), with sign(0) = 0 as PyTorch's abs backward.
struct AbsGradient : Model<AbsGradient, tosa::AbsOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    Value g = resultGradients[0], x = op->getOperand(0);
    RankedTensorType type = typeOf(x);
    auto maskType = RankedTensorType::get(type.getShape(), b.getI1Type());
    Value zero = scalar(b, loc, 0.0f, type.getRank());
    Value positive = tosa::GreaterOp::create(b, loc, maskType, x, zero);
    Value negative = tosa::GreaterOp::create(b, loc, maskType, zero, x);
    operandGradients[0] = sub(b, loc, selectOrZero(b, loc, positive, g),
                              selectOrZero(b, loc, negative, g));
    return success();
  }
};

struct AddGradient : Model<AddGradient, tosa::AddOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    for (unsigned i = 0; i < 2; ++i)
      operandGradients[i] = sumToShape(b, op->getLoc(), resultGradients[0],
                                       typeOf(op->getOperand(i)));
    return success();
  }
};

struct SubGradient : Model<SubGradient, tosa::SubOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    Value g = resultGradients[0];
    operandGradients[0] = sumToShape(b, loc, g, typeOf(op->getOperand(0)));
    Value negated = mul(b, loc, g, scalar(b, loc, -1.0f, typeOf(g).getRank()));
    operandGradients[1] =
        sumToShape(b, loc, negated, typeOf(op->getOperand(1)));
    return success();
  }
};

struct MulGradient : Model<MulGradient, tosa::MulOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index < 2; // not the shift
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    Value g = resultGradients[0], lhs = op->getOperand(0),
          rhs = op->getOperand(1);
    operandGradients[0] = sumToShape(b, loc, mul(b, loc, g, rhs), typeOf(lhs));
    operandGradients[1] = sumToShape(b, loc, mul(b, loc, g, lhs), typeOf(rhs));
    return success();
  }
};

struct ReduceSumGradient : Model<ReduceSumGradient, tosa::ReduceSumOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    operandGradients[0] = broadcastTo(b, op->getLoc(), resultGradients[0],
                                      typeOf(op->getOperand(0)));
    return success();
  }
};

/// torch.amax's rule: the gradient is shared equally by the elements equal
/// to the maximum.
struct ReduceMaxGradient : Model<ReduceMaxGradient, tosa::ReduceMaxOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    auto reduce = cast<tosa::ReduceMaxOp>(op);
    Value x = reduce.getInput();
    RankedTensorType type = typeOf(x);
    Value isMax = tosa::EqualOp::create(
        b, loc, RankedTensorType::get(type.getShape(), b.getI1Type()), x,
        broadcastTo(b, loc, reduce.getResult(), type));
    Value ones = selectOrZero(
        b, loc, isMax,
        broadcastTo(b, loc, scalar(b, loc, 1.0f, type.getRank()), type));
    Value count = tosa::ReduceSumOp::create(b, loc, typeOf(reduce.getResult()),
                                            ones, reduce.getAxisAttr());
    Value share = mul(b, loc, resultGradients[0],
                      tosa::ReciprocalOp::create(b, loc, typeOf(count), count));
    operandGradients[0] =
        selectOrZero(b, loc, isMax, broadcastTo(b, loc, share, type));
    return success();
  }
};

struct ReshapeGradient : Model<ReshapeGradient, tosa::ReshapeOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    operandGradients[0] = reshape(b, op->getLoc(), resultGradients[0],
                                  typeOf(op->getOperand(0)).getShape());
    return success();
  }
};

/// tosa.tile repeats the whole input m_i times along each dimension i, so
/// output index k * d_i + j reads input index j: per tiled dimension, the
/// gradient viewed as P x m_i x d_i x Q (P and Q the sizes before and
/// after it; rank 4, within TOSA's level limit), summed over m_i.
struct TileGradient : Model<TileGradient, tosa::TileOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    ArrayRef<int64_t> input = typeOf(op->getOperand(0)).getShape();
    SmallVector<int64_t> shape(typeOf(op->getResult(0)).getShape());
    Value sum = resultGradients[0];
    for (size_t dim = 0; dim < input.size(); ++dim) {
      int64_t times = shape[dim] / input[dim];
      if (times == 1)
        continue;
      int64_t before = 1, after = 1;
      for (size_t other = 0; other < shape.size(); ++other)
        (other < dim ? before : after) *= other == dim ? 1 : shape[other];
      sum = reshape(b, loc, sum, {before, times, input[dim], after});
      sum = tosa::ReduceSumOp::create(
          b, loc,
          RankedTensorType::get({before, 1, input[dim], after},
                                typeOf(sum).getElementType()),
          sum, b.getI32IntegerAttr(1));
      shape[dim] = input[dim];
      sum = reshape(b, loc, sum, shape);
    }
    operandGradients[0] = sum;
    return success();
  }
};

struct TransposeGradient : Model<TransposeGradient, tosa::TransposeOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto transpose = cast<tosa::TransposeOp>(op);
    ArrayRef<int32_t> perms = transpose.getPerms();
    SmallVector<int32_t> inverse(perms.size());
    for (auto [index, perm] : llvm::enumerate(perms))
      inverse[perm] = index;
    operandGradients[0] = tosa::TransposeOp::create(
        b, op->getLoc(), typeOf(transpose.getInput1()), resultGradients[0],
        inverse);
    return success();
  }
};

/// Reversing an axis is its own inverse.
struct ReverseGradient : Model<ReverseGradient, tosa::ReverseOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto reverse = cast<tosa::ReverseOp>(op);
    operandGradients[0] =
        tosa::ReverseOp::create(b, op->getLoc(), typeOf(reverse.getInput1()),
                                resultGradients[0], reverse.getAxisAttr());
    return success();
  }
};

/// PyTorch's threshold_backward / hardtanh_backward: the gradient passes
/// where min < x < max, strictly (so a ReLU passes none at x == 0).
///
/// With min < max the mask reads the clamp's result instead, as PyTorch's
/// ReLU backward does: min < clamp(x) < max exactly when min < x < max (a
/// NaN fails both ways), so the gradient is the same bit for bit, and the
/// input need not be kept for the backward pass (a batch norm's output,
/// written only for this mask before).
struct ClampGradient : Model<ClampGradient, tosa::ClampOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    auto clamp = cast<tosa::ClampOp>(op);
    auto lo = cast<FloatAttr>(clamp.getMinValAttr()).getValueAsDouble();
    auto hi = cast<FloatAttr>(clamp.getMaxValAttr()).getValueAsDouble();
    Value x = lo < hi ? clamp.getOutput() : clamp.getInput();
    RankedTensorType type = typeOf(x);
    int64_t rank = type.getRank();
    auto maskType = RankedTensorType::get(type.getShape(), b.getI1Type());
    Value above =
        tosa::GreaterOp::create(b, loc, maskType, x, scalar(b, loc, lo, rank));
    Value below =
        tosa::GreaterOp::create(b, loc, maskType, scalar(b, loc, hi, rank), x);
    Value inside = tosa::LogicalAndOp::create(b, loc, maskType, above, below);
    operandGradients[0] = selectOrZero(b, loc, inside, resultGradients[0]);
    return success();
  }
};

/// tosa.matmul [B, M, K] x [B, K, N]: dA = g B^T, dB = A^T g. The
/// zero-points are not differentiable.
///
/// Each contraction's innermost loop is contiguous in its output and its
/// operands, so that it runs on vectors with the sum over the reduction
/// kept in registers: dA reads B transposed ([B, N, K], a copy of K x N
/// elements against the M x N x K of the product); dB is computed
/// transposed ([B, N, K], then transposed back) when N is too short for a
/// vector and K is not (a linear layer's 10 classes against its 1568
/// inputs). Every element sums the same terms in the same order either way.
struct MatMulGradient : Model<MatMulGradient, tosa::MatMulOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index < 2;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    MLIRContext *ctx = op->getContext();
    Value lhs = op->getOperand(0), rhs = op->getOperand(1);
    Value g = resultGradients[0];
    ArrayRef<int64_t> lhsShape = typeOf(lhs).getShape();
    int64_t batchSize = lhsShape[0], k = lhsShape[2];
    int64_t n = typeOf(rhs).getDimSize(2);
    auto dim = [&](unsigned position) {
      return getAffineDimExpr(position, ctx);
    };
    auto map = [&](ArrayRef<AffineExpr> exprs) {
      return AffineMap::get(4, 0, exprs, ctx);
    };
    auto swapLast = [&](Value value, RankedTensorType type) -> Value {
      return tosa::TransposeOp::create(b, loc, type, value,
                                       ArrayRef<int32_t>{0, 2, 1});
    };
    Type element = typeOf(lhs).getElementType();
    auto transposedRhsType = RankedTensorType::get({batchSize, n, k}, element);
    // dA[b, m, k] = sum_n g[b, m, n] B^T[b, n, k]: loops (b, m, n, k).
    operandGradients[0] =
        contract(b, loc, ValueRange{g, swapLast(rhs, transposedRhsType)},
                 {map({dim(0), dim(1), dim(2)}), map({dim(0), dim(2), dim(3)})},
                 2, typeOf(lhs), map({dim(0), dim(1), dim(3)}));
    constexpr int64_t kVectorLanes = 16;
    if (n < kVectorLanes && k > n) {
      // dB^T[b, n, k] = sum_m g[b, m, n] A[b, m, k]: loops (b, n, m, k).
      Value transposed = contract(
          b, loc, ValueRange{g, lhs},
          {map({dim(0), dim(2), dim(1)}), map({dim(0), dim(2), dim(3)})}, 2,
          transposedRhsType, map({dim(0), dim(1), dim(3)}));
      operandGradients[1] = swapLast(transposed, typeOf(rhs));
      return success();
    }
    // dB[b, k, n] = sum_m A[b, m, k] g[b, m, n]: loops (b, m, k, n).
    operandGradients[1] =
        contract(b, loc, ValueRange{lhs, g},
                 {map({dim(0), dim(1), dim(2)}), map({dim(0), dim(1), dim(3)})},
                 2, typeOf(rhs), map({dim(0), dim(2), dim(3)}));
    return success();
  }
};

struct ConcatGradient : Model<ConcatGradient, tosa::ConcatOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto concat = cast<tosa::ConcatOp>(op);
    int64_t axis = concat.getAxis();
    RankedTensorType resultType = typeOf(concat.getResult());
    SmallVector<OpFoldResult> offsets(resultType.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(resultType.getRank(), b.getIndexAttr(1));
    int64_t offset = 0;
    for (auto [index, input] : llvm::enumerate(concat.getInput1())) {
      RankedTensorType type = typeOf(input);
      offsets[axis] = b.getIndexAttr(offset);
      SmallVector<OpFoldResult> sizes;
      for (int64_t size : type.getShape())
        sizes.push_back(b.getIndexAttr(size));
      operandGradients[index] = tensor::ExtractSliceOp::create(
          b, op->getLoc(), type, resultGradients[0], offsets, sizes, strides);
      offset += type.getDimSize(axis);
    }
    return success();
  }
};

} // namespace

void mlir::qat::registerTosaGradientExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, tosa::TosaDialect *) {
    tosa::AbsOp::attachInterface<AbsGradient>(*ctx);
    tosa::AddOp::attachInterface<AddGradient>(*ctx);
    tosa::SubOp::attachInterface<SubGradient>(*ctx);
    tosa::MulOp::attachInterface<MulGradient>(*ctx);
    tosa::ReduceSumOp::attachInterface<ReduceSumGradient>(*ctx);
    tosa::ReduceMaxOp::attachInterface<ReduceMaxGradient>(*ctx);
    tosa::ReshapeOp::attachInterface<ReshapeGradient>(*ctx);
    tosa::TransposeOp::attachInterface<TransposeGradient>(*ctx);
    tosa::ReverseOp::attachInterface<ReverseGradient>(*ctx);
    tosa::TileOp::attachInterface<TileGradient>(*ctx);
    tosa::ClampOp::attachInterface<ClampGradient>(*ctx);
    tosa::MatMulOp::attachInterface<MatMulGradient>(*ctx);
    tosa::ConcatOp::attachInterface<ConcatGradient>(*ctx);
    tosa::ExpOp::attachInterface<UnaryGradient<tosa::ExpOp>>(*ctx);
    tosa::LogOp::attachInterface<UnaryGradient<tosa::LogOp>>(*ctx);
    tosa::ReciprocalOp::attachInterface<UnaryGradient<tosa::ReciprocalOp>>(
        *ctx);
    tosa::RsqrtOp::attachInterface<UnaryGradient<tosa::RsqrtOp>>(*ctx);
    tosa::TanhOp::attachInterface<UnaryGradient<tosa::TanhOp>>(*ctx);
    tosa::SigmoidOp::attachInterface<UnaryGradient<tosa::SigmoidOp>>(*ctx);
  });
}
