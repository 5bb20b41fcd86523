//===- LinalgHelpers.cpp - building blocks of the qat lowerings -----------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "LinalgHelpers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::to_linalg;
using utils::IteratorType;

Value to_linalg::f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value to_linalg::i32Constant(OpBuilder &b, Location loc, int32_t value) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(value));
}

/// An uninitialized tensor of `shape`'s dimensions (static or taken from
/// `like`) with `elementType`.
Value to_linalg::emptyTensor(OpBuilder &b, Location loc, RankedTensorType type,
                             Value like, ArrayRef<int64_t> likeDims) {
  SmallVector<Value> dynamicSizes;
  for (auto [index, size] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(size))
      dynamicSizes.push_back(
          tensor::DimOp::create(b, loc, like, likeDims[index]));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynamicSizes);
}

/// The tensor that `value`'s shape has, with `elementType`.
Value to_linalg::emptyLike(OpBuilder &b, Location loc, Value value,
                           Type elementType) {
  auto type = cast<RankedTensorType>(value.getType());
  auto resultType = RankedTensorType::get(type.getShape(), elementType);
  return emptyTensor(b, loc, resultType, value,
                     llvm::to_vector(llvm::seq<int64_t>(0, type.getRank())));
}

/// A per-tensor or per-axis parameter (or observer state) of `paramType`,
/// shaped like the parameters of an op on `input`, filled with `value`.
Value to_linalg::filledParam(OpBuilder &b, Location loc,
                             RankedTensorType paramType, Value input,
                             std::optional<int64_t> axis, float value) {
  SmallVector<int64_t> likeDims;
  if (axis)
    likeDims.push_back(*axis);
  Value empty = emptyTensor(b, loc, paramType, input, likeDims);
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, value), empty)
      .getResult(0);
}

/// Maps the iteration space of a rank-`rank` input to its per-tensor (no
/// axis: a 0-d parameter) or per-axis (d_axis) parameter.
AffineMap to_linalg::paramMap(MLIRContext *ctx, int64_t rank,
                              std::optional<int64_t> axis) {
  if (!axis)
    return AffineMap::get(rank, 0, {}, ctx);
  return AffineMap::get(rank, 0, getAffineDimExpr(*axis, ctx), ctx);
}

/// An elementwise linalg.generic over operands of one shape.
SmallVector<Value> to_linalg::elementwise(
    OpBuilder &b, Location loc, ValueRange inputs, ValueRange inits,
    function_ref<void(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = cast<RankedTensorType>(inputs.front().getType()).getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> maps(inputs.size() + inits.size(), identity);
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  auto generic =
      linalg::GenericOp::create(b, loc, ValueRange(inits).getTypes(), inputs,
                                inits, maps, iterators, body);
  return SmallVector<Value>(generic.getResults());
}

/// 1.0f / scale, element by element (PyTorch's `inv_scale`).
Value to_linalg::inverseScale(OpBuilder &b, Location loc, Value scale) {
  Value init = emptyLike(b, loc, scale, b.getF32Type());
  return elementwise(b, loc, scale, init,
                     [](OpBuilder &b, Location loc, ValueRange args) {
                       Value one = f32Constant(b, loc, 1.0f);
                       Value inv = arith::DivFOp::create(b, loc, one, args[0]);
                       linalg::YieldOp::create(b, loc, inv);
                     })
      .front();
}

/// The integer level of x before clamping, as an f32 computed in PyTorch's
/// order: round_half_even(x * inv_scale) + float(zero_point).
Value to_linalg::quantizedLevel(OpBuilder &b, Location loc, Value x,
                                Value invScale, Value zeroPointF) {
  Value scaled = arith::MulFOp::create(b, loc, x, invScale);
  Value rounded = math::RoundEvenOp::create(b, loc, scaled);
  return arith::AddFOp::create(b, loc, rounded, zeroPointF);
}

/// The level clamped to [qmin, qmax] in f32. PyTorch casts the level to
/// int64_t: NaN and values of 2^63 or more become INT64_MIN on x86, which
/// the clamp sends to qmin; so do they here.
Value to_linalg::clampLevel(OpBuilder &b, Location loc, Value level, float qmin,
                            float qmax) {
  Value lo = f32Constant(b, loc, qmin);
  Value hi = f32Constant(b, loc, qmax);
  Value clamped = arith::MinimumFOp::create(
      b, loc, arith::MaximumFOp::create(b, loc, level, lo), hi);
  Value int64Limit = f32Constant(b, loc, 0x1p63f);
  Value notRepresentable = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::UGE, level, int64Limit);
  return arith::SelectOp::create(b, loc, notRepresentable, lo, clamped);
}
