//===- LinalgGradients.cpp - gradient rules of linalg ops -------*- C++ -*-===//
//
// Part of qat-mlir. External models of DifferentiableOpInterface for the
// linalg named ops the importer emits: convolutions (any op whose body sums
// products of its two inputs into its output), sum pooling and max pooling.
// Each gradient is one linalg.generic over the op's own loops and indexing
// maps, so strides, dilations, groups and padding need no special cases.
//
//===----------------------------------------------------------------------===//

#include "Registration.h"
#include "qat/Dialect/Qat/Gradients/GradientUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"

#include <limits>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;
using namespace mlir::qat::gradients;

namespace {

template <typename Derived, typename OpT>
using Model = DifferentiableOpInterface::ExternalModel<Derived, OpT>;

/// out[o] += a[ia] * b[ib]: da[ia] += g[o] * b[ib], db[ib] += a[ia] * g[o],
/// and the init passes g through.
template <typename OpT>
struct MulAddGradient : Model<MulAddGradient<OpT>, OpT> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto linalgOp = cast<linalg::LinalgOp>(op);
    if (!isMulAdd(op))
      return op->emitOpError("has no gradient rule: its body is not a sum of "
                             "products of its two inputs");
    Location loc = op->getLoc();
    SmallVector<AffineMap> maps = linalgOp.getIndexingMapsArray();
    Value lhs = op->getOperand(0), rhs = op->getOperand(1);
    Value g = resultGradients[0];
    operandGradients[0] = contract(b, loc, ValueRange{g, rhs},
                                   {maps[2], maps[1]}, 2, typeOf(lhs), maps[0]);
    operandGradients[1] = contract(b, loc, ValueRange{lhs, g},
                                   {maps[0], maps[2]}, 2, typeOf(rhs), maps[1]);
    operandGradients[2] = g;
    return success();
  }
};

/// out[o] += x[ix] over the window: dx[ix] += g[o]. The window operand
/// only gives the loop extents.
struct SumPoolGradient : Model<SumPoolGradient, linalg::PoolingNchwSumOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index != 1;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto pool = cast<linalg::LinalgOp>(op);
    SmallVector<AffineMap> maps = pool.getIndexingMapsArray();
    Value g = resultGradients[0];
    operandGradients[0] =
        contract(b, op->getLoc(), ValueRange{g, op->getOperand(1)},
                 {maps[2], maps[1]}, 1, typeOf(op->getOperand(0)), maps[0]);
    operandGradients[2] = g;
    return success();
  }
};

/// PyTorch's max_pool2d backward: each output's gradient goes to the first
/// element of its window (in row-major window order) that equals the
/// maximum. One reduction finds that position per output, a second generic
/// scatters the gradient to it.
struct MaxPoolGradient : Model<MaxPoolGradient, linalg::PoolingNchwMaxOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    Location loc = op->getLoc();
    auto pool = cast<linalg::LinalgOp>(op);
    SmallVector<AffineMap> maps = pool.getIndexingMapsArray();
    unsigned numLoops = pool.getNumLoops();
    Value x = op->getOperand(0), window = op->getOperand(1);
    Value y = op->getResult(0);
    // The window loops are the dims of the window operand's map.
    SmallVector<unsigned> windowDims;
    for (AffineExpr expr : maps[1].getResults())
      windowDims.push_back(cast<AffineDimExpr>(expr).getPosition());
    int64_t windowWidth = typeOf(window).getShape().back();
    auto positionInWindow = [&](OpBuilder &b, Location loc) {
      Value row = linalg::IndexOp::create(b, loc, windowDims[0]);
      Value col = linalg::IndexOp::create(b, loc, windowDims[1]);
      Value width = arith::ConstantIndexOp::create(b, loc, windowWidth);
      Value flat = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, row, width), col);
      return arith::IndexCastOp::create(b, loc, b.getI32Type(), flat);
    };

    auto indexType =
        RankedTensorType::get(typeOf(y).getShape(), b.getI32Type());
    Value none = arith::ConstantOp::create(
        b, loc, b.getI32IntegerAttr(std::numeric_limits<int32_t>::max()));
    Value init =
        linalg::FillOp::create(b, loc, none,
                               tensor::EmptyOp::create(
                                   b, loc, indexType.getShape(), b.getI32Type())
                                   .getResult())
            .getResult(0);
    SmallVector<utils::IteratorType> iterators = pool.getIteratorTypesArray();
    Value argmax =
        linalg::GenericOp::create(
            b, loc, indexType, ValueRange{x, y, window}, init,
            ArrayRef<AffineMap>{maps[0], maps[2], maps[1], maps[2]}, iterators,
            [&](OpBuilder &b, Location loc, ValueRange args) {
              Value isMax = arith::CmpFOp::create(
                  b, loc, arith::CmpFPredicate::OEQ, args[0], args[1]);
              Value candidate = arith::SelectOp::create(
                  b, loc, isMax, positionInWindow(b, loc), none);
              linalg::YieldOp::create(
                  b, loc,
                  arith::MinSIOp::create(b, loc, args[3], candidate)
                      .getResult());
            })
            .getResult(0);

    RankedTensorType xType = typeOf(x);
    SmallVector<utils::IteratorType> scatterIterators(
        numLoops, utils::IteratorType::reduction);
    for (AffineExpr expr : maps[0].getResults())
      if (auto dim = dyn_cast<AffineDimExpr>(expr))
        scatterIterators[dim.getPosition()] = utils::IteratorType::parallel;
    operandGradients[0] =
        linalg::GenericOp::create(
            b, loc, xType, ValueRange{resultGradients[0], argmax, window},
            zeros(b, loc, xType),
            ArrayRef<AffineMap>{maps[2], maps[2], maps[1], maps[0]},
            scatterIterators,
            [&](OpBuilder &b, Location loc, ValueRange args) {
              Value here =
                  arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        args[1], positionInWindow(b, loc));
              Value zero =
                  arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
              Value add = arith::SelectOp::create(b, loc, here, args[0], zero);
              linalg::YieldOp::create(
                  b, loc,
                  arith::AddFOp::create(b, loc, args[3], add).getResult());
            })
            .getResult(0);
    return success();
  }
};

} // namespace

void mlir::qat::registerLinalgGradientExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, linalg::LinalgDialect *) {
    linalg::Conv2DNchwFchwOp::attachInterface<
        MulAddGradient<linalg::Conv2DNchwFchwOp>>(*ctx);
    linalg::Conv2DNgchwGfchwOp::attachInterface<
        MulAddGradient<linalg::Conv2DNgchwGfchwOp>>(*ctx);
    linalg::MatmulOp::attachInterface<MulAddGradient<linalg::MatmulOp>>(*ctx);
    linalg::BatchMatmulOp::attachInterface<
        MulAddGradient<linalg::BatchMatmulOp>>(*ctx);
    linalg::PoolingNchwSumOp::attachInterface<SumPoolGradient>(*ctx);
    linalg::PoolingNchwMaxOp::attachInterface<MaxPoolGradient>(*ctx);
  });
}
