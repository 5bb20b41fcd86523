//===- TosaBuilders.cpp - tosa and linalg building blocks -------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Tosa/Utils/ConversionUtils.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;

namespace {

RankedTensorType broadcastType(Value lhs, Value rhs) {
  ArrayRef<int64_t> a = typeOf(lhs).getShape(), b = typeOf(rhs).getShape();
  SmallVector<int64_t> shape;
  for (auto [x, y] : llvm::zip_equal(a, b))
    shape.push_back(x == 1 ? y : x);
  return RankedTensorType::get(shape, typeOf(lhs).getElementType());
}

} // namespace

Value builders::scalar(OpBuilder &b, Location loc, float value, int64_t rank) {
  auto type =
      RankedTensorType::get(SmallVector<int64_t>(rank, 1), b.getF32Type());
  return tosa::ConstOp::create(b, loc, type,
                               DenseElementsAttr::get(type, value));
}

Value builders::zeros(OpBuilder &b, Location loc, RankedTensorType type) {
  Value empty =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  Value zero =
      arith::ConstantOp::create(b, loc, b.getZeroAttr(type.getElementType()));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

Value builders::add(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return tosa::AddOp::create(b, loc, broadcastType(lhs, rhs), lhs, rhs);
}

Value builders::sub(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return tosa::SubOp::create(b, loc, broadcastType(lhs, rhs), lhs, rhs);
}

Value builders::mul(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  auto shiftType = RankedTensorType::get({1}, b.getI8Type());
  Value shift = tosa::ConstOp::create(
      b, loc, shiftType, DenseElementsAttr::get(shiftType, int8_t(0)));
  return tosa::MulOp::create(b, loc, broadcastType(lhs, rhs), lhs, rhs, shift);
}

Value builders::selectOrZero(OpBuilder &b, Location loc, Value condition,
                             Value ifTrue) {
  Value zero = scalar(b, loc, 0.0f, typeOf(ifTrue).getRank());
  return tosa::SelectOp::create(b, loc, typeOf(ifTrue), condition, ifTrue,
                                zero);
}

Value builders::sumToShape(OpBuilder &b, Location loc, Value gradient,
                           RankedTensorType target) {
  SmallVector<int64_t> shape(typeOf(gradient).getShape());
  for (auto [axis, size] : llvm::enumerate(target.getShape())) {
    if (size != 1 || shape[axis] == 1)
      continue;
    shape[axis] = 1;
    gradient = tosa::ReduceSumOp::create(
        b, loc, RankedTensorType::get(shape, target.getElementType()), gradient,
        b.getI32IntegerAttr(axis));
  }
  return gradient;
}

Value builders::broadcastTo(OpBuilder &b, Location loc, Value value,
                            RankedTensorType target) {
  RankedTensorType type = typeOf(value);
  if (type == target)
    return value;
  int64_t rank = target.getRank();
  SmallVector<AffineExpr> reads;
  for (auto [axis, size] : llvm::enumerate(type.getShape()))
    reads.push_back(size == 1 && target.getDimSize(axis) != 1
                        ? b.getAffineConstantExpr(0)
                        : b.getAffineDimExpr(axis));
  AffineMap readMap = AffineMap::get(rank, 0, reads, b.getContext());
  Value init = tensor::EmptyOp::create(b, loc, target.getShape(),
                                       target.getElementType());
  return linalg::GenericOp::create(
             b, loc, target, value, init,
             ArrayRef<AffineMap>{readMap, b.getMultiDimIdentityMap(rank)},
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [](OpBuilder &b, Location loc, ValueRange args) {
               linalg::YieldOp::create(b, loc, args[0]);
             })
      .getResult(0);
}

Value builders::reshape(OpBuilder &b, Location loc, Value value,
                        ArrayRef<int64_t> shape) {
  ImplicitLocOpBuilder builder(loc, b);
  Value shapeValue = tosa::getTosaConstShape(builder, shape);
  return tosa::ReshapeOp::create(
      b, loc, RankedTensorType::get(shape, typeOf(value).getElementType()),
      value, shapeValue);
}

Value builders::contract(OpBuilder &b, Location loc, ValueRange inputs,
                         ArrayRef<AffineMap> inputMaps, unsigned numFactors,
                         RankedTensorType resultType, AffineMap resultMap) {
  unsigned numLoops = resultMap.getNumDims();
  SmallVector<utils::IteratorType> iterators(numLoops,
                                             utils::IteratorType::reduction);
  for (AffineExpr expr : resultMap.getResults())
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      iterators[dim.getPosition()] = utils::IteratorType::parallel;
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(resultMap);
  return linalg::GenericOp::create(
             b, loc, resultType, inputs, zeros(b, loc, resultType), maps,
             iterators,
             [&](OpBuilder &b, Location loc, ValueRange args) {
               Value product = args[0];
               for (unsigned i = 1; i < numFactors; ++i)
                 product = arith::MulFOp::create(b, loc, product, args[i]);
               linalg::YieldOp::create(
                   b, loc,
                   arith::AddFOp::create(b, loc, args.back(), product)
                       .getResult());
             })
      .getResult(0);
}

bool builders::isMulAdd(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  if (!linalgOp || linalgOp.getNumDpsInputs() != 2 ||
      linalgOp.getNumDpsInits() != 1)
    return false;
  Block *body = linalgOp.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto addf = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!addf)
    return false;
  Value out = body->getArgument(2);
  Value other = addf.getLhs() == out ? addf.getRhs() : addf.getLhs();
  auto mulf = other.getDefiningOp<arith::MulFOp>();
  return mulf && (addf.getLhs() == out || addf.getRhs() == out) &&
         llvm::is_contained(ValueRange{mulf.getLhs(), mulf.getRhs()},
                            body->getArgument(0)) &&
         llvm::is_contained(ValueRange{mulf.getLhs(), mulf.getRhs()},
                            body->getArgument(1));
}

Value builders::channelVector(OpBuilder &b, Location loc, Value vector,
                              int64_t rank) {
  SmallVector<int64_t> shape(rank, 1);
  shape[1] = typeOf(vector).getDimSize(0);
  return reshape(b, loc, vector, shape);
}
