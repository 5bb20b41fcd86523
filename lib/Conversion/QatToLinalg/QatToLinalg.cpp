//===- QatToLinalg.cpp - lowering qat ops to linalg -------------*- C++ -*-===//
//
// Part of qat-mlir.
//
// Each qat op becomes linalg.generic ops on tensors whose bodies use arith
// and math ops in the exact order of the op's documented formula, so the
// lowered code rounds exactly as PyTorch's CPU kernels do.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/QatToLinalg/QatToLinalg.h"
#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <tuple>

using namespace mlir;
using namespace mlir::qat;

namespace {

using utils::IteratorType;

Value f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value i32Constant(OpBuilder &b, Location loc, int32_t value) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(value));
}

/// An uninitialized tensor of `shape`'s dimensions (static or taken from
/// `like`) with `elementType`.
Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type, Value like,
                  ArrayRef<int64_t> likeDims) {
  SmallVector<Value> dynamicSizes;
  for (auto [index, size] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(size))
      dynamicSizes.push_back(
          tensor::DimOp::create(b, loc, like, likeDims[index]));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynamicSizes);
}

/// The tensor that `value`'s shape has, with `elementType`.
Value emptyLike(OpBuilder &b, Location loc, Value value, Type elementType) {
  auto type = cast<RankedTensorType>(value.getType());
  auto resultType = RankedTensorType::get(type.getShape(), elementType);
  return emptyTensor(b, loc, resultType, value,
                     llvm::to_vector(llvm::seq<int64_t>(0, type.getRank())));
}

/// A per-tensor or per-axis parameter (or observer state) of `paramType`,
/// shaped like the parameters of an op on `input`, filled with `value`.
Value filledParam(OpBuilder &b, Location loc, RankedTensorType paramType,
                  Value input, std::optional<int64_t> axis, float value) {
  SmallVector<int64_t> likeDims;
  if (axis)
    likeDims.push_back(*axis);
  Value empty = emptyTensor(b, loc, paramType, input, likeDims);
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, value), empty)
      .getResult(0);
}

/// Maps the iteration space of a rank-`rank` input to its per-tensor (no
/// axis: a 0-d parameter) or per-axis (d_axis) parameter.
AffineMap paramMap(MLIRContext *ctx, int64_t rank,
                   std::optional<int64_t> axis) {
  if (!axis)
    return AffineMap::get(rank, 0, {}, ctx);
  return AffineMap::get(rank, 0, getAffineDimExpr(*axis, ctx), ctx);
}

/// An elementwise linalg.generic over operands of one shape.
SmallVector<Value>
elementwise(OpBuilder &b, Location loc, ValueRange inputs, ValueRange inits,
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
Value inverseScale(OpBuilder &b, Location loc, Value scale) {
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
Value quantizedLevel(OpBuilder &b, Location loc, Value x, Value invScale,
                     Value zeroPointF) {
  Value scaled = arith::MulFOp::create(b, loc, x, invScale);
  Value rounded = math::RoundEvenOp::create(b, loc, scaled);
  return arith::AddFOp::create(b, loc, rounded, zeroPointF);
}

/// The level clamped to [qmin, qmax] in f32. PyTorch casts the level to
/// int64_t: NaN and values of 2^63 or more become INT64_MIN on x86, which
/// the clamp sends to qmin; so do they here.
Value clampLevel(OpBuilder &b, Location loc, Value level, float qmin,
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

/// The lowering shared by qat.fake_quant and qat.fake_quant_mask: a
/// linalg.generic over (input, inv_scale, scale, zero_point) producing one
/// tensor of `resultElementType`, whose body computes the level and hands it
/// to `buildResult` for the op's own result.
template <typename FakeQuantLikeOp>
Value lowerFakeQuantLike(FakeQuantLikeOp op, PatternRewriter &rewriter,
                         Type resultElementType,
                         function_ref<Value(OpBuilder &, Location, Value level,
                                            Value scale, Value zeroPointF)>
                             buildResult) {
  Location loc = op.getLoc();
  Value input = op.getInput();
  int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
  MLIRContext *ctx = rewriter.getContext();

  Value invScale = inverseScale(rewriter, loc, op.getScale());
  Value init = emptyLike(rewriter, loc, input, resultElementType);
  AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
  AffineMap param = paramMap(ctx, rank, op.getAxis());
  SmallVector<AffineMap> maps = {identity, param, param, param, identity};
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);

  auto generic = linalg::GenericOp::create(
      rewriter, loc, init.getType(),
      ValueRange{input, invScale, op.getScale(), op.getZeroPoint()}, init, maps,
      iterators, [&](OpBuilder &b, Location loc, ValueRange args) {
        Value zeroPointF =
            arith::SIToFPOp::create(b, loc, b.getF32Type(), args[3]);
        Value level = quantizedLevel(b, loc, args[0], args[1], zeroPointF);
        linalg::YieldOp::create(
            b, loc, buildResult(b, loc, level, args[2], zeroPointF));
      });
  return generic.getResult(0);
}

struct FakeQuantLowering : OpRewritePattern<FakeQuantOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(FakeQuantOp op,
                                PatternRewriter &rewriter) const override {
    float qmin = op.getQuantMin(), qmax = op.getQuantMax();
    Value result = lowerFakeQuantLike(
        op, rewriter, rewriter.getF32Type(),
        [&](OpBuilder &b, Location loc, Value level, Value scale,
            Value zeroPointF) {
          Value clamped = clampLevel(b, loc, level, qmin, qmax);
          Value centered = arith::SubFOp::create(b, loc, clamped, zeroPointF);
          return arith::MulFOp::create(b, loc, centered, scale).getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct FakeQuantMaskLowering : OpRewritePattern<FakeQuantMaskOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(FakeQuantMaskOp op,
                                PatternRewriter &rewriter) const override {
    float qmin = op.getQuantMin(), qmax = op.getQuantMax();
    Value result = lowerFakeQuantLike(
        op, rewriter, rewriter.getI1Type(),
        [&](OpBuilder &b, Location loc, Value level, Value, Value) -> Value {
          // Ordered comparisons: NaN is outside the range.
          Value aboveMin =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, level,
                                    f32Constant(b, loc, qmin));
          Value belowMax =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, level,
                                    f32Constant(b, loc, qmax));
          return arith::AndIOp::create(b, loc, aboveMin, belowMax);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// `bound` as an f32 moved inwards into the grid where it is not an f32
/// (grids wider than 24 bits), so that a value clamped to it converts to
/// i32 without overflow: rounded up for the lower bound, down for the upper.
float f32Inside(int64_t bound, bool isUpper) {
  float value = static_cast<float>(bound);
  double exact = static_cast<double>(bound);
  if (isUpper && static_cast<double>(value) > exact)
    value = std::nextafter(value, -INFINITY);
  if (!isUpper && static_cast<double>(value) < exact)
    value = std::nextafter(value, INFINITY);
  return value;
}

struct QuantizeLowering : OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp op,
                                PatternRewriter &rewriter) const override {
    float qmin = f32Inside(op.getQuantMin(), /*isUpper=*/false);
    float qmax = f32Inside(op.getQuantMax(), /*isUpper=*/true);
    Value result = lowerFakeQuantLike(
        op, rewriter, rewriter.getI32Type(),
        [&](OpBuilder &b, Location loc, Value level, Value, Value) -> Value {
          // The same clamp and NaN/2^63 rule as qat.fake_quant.
          Value clamped = clampLevel(b, loc, level, qmin, qmax);
          return arith::FPToSIOp::create(b, loc, b.getI32Type(), clamped);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct DequantizeLowering : OpRewritePattern<DequantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DequantizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap param = paramMap(getContext(), rank, op.getAxis());
    Value init = emptyLike(rewriter, loc, input, rewriter.getF32Type());
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(),
        ValueRange{input, op.getScale(), op.getZeroPoint()}, init,
        SmallVector<AffineMap>{identity, param, param, identity},
        SmallVector<IteratorType>(rank, IteratorType::parallel),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Type f32 = b.getF32Type();
          Value code = arith::SIToFPOp::create(b, loc, f32, args[0]);
          Value zeroPoint = arith::SIToFPOp::create(b, loc, f32, args[2]);
          Value centered = arith::SubFOp::create(b, loc, code, zeroPoint);
          linalg::YieldOp::create(
              b, loc,
              arith::MulFOp::create(b, loc, centered, args[1]).getResult());
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// A multiplier of qat.requantize as its exact fixed-point form, i64: the
/// f32 bits give the biased exponent e and fraction f; normal: m = f | 2^23,
/// k = 150 - e; subnormal (e = 0): m = f, k = 149; k clamped to 62.
struct FixedPoint {
  Value significand, shift, half; // m, k, 2^(k-1)
};

FixedPoint fixedPoint(OpBuilder &b, Location loc, Value multiplier) {
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  auto c32 = [&](int32_t v) { return i32Constant(b, loc, v); };
  Value bits = arith::BitcastOp::create(b, loc, i32, multiplier);
  Value exponent = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, c32(23)), c32(255));
  Value fraction = arith::AndIOp::create(b, loc, bits, c32(0x7fffff));
  Value isNormal =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, exponent, c32(0));
  Value significand = arith::SelectOp::create(
      b, loc, isNormal, arith::OrIOp::create(b, loc, fraction, c32(1 << 23)),
      fraction);
  Value shift = arith::SelectOp::create(
      b, loc, isNormal, arith::SubIOp::create(b, loc, c32(150), exponent),
      c32(149));
  shift = arith::MinSIOp::create(b, loc, shift, c32(62));
  Value shift64 = arith::ExtSIOp::create(b, loc, i64, shift);
  Value one = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(1));
  Value half = arith::ShLIOp::create(
      b, loc, one, arith::SubIOp::create(b, loc, shift64, one));
  return {arith::ExtSIOp::create(b, loc, i64, significand), shift64, half};
}

/// clamp(((acc * m + 2^(k-1)) >> k) + z, lo, hi) in i64; z, lo, hi i64.
Value rescale(OpBuilder &b, Location loc, Value acc, const FixedPoint &fp,
              Value zeroPoint, Value lo, Value hi) {
  Type i64 = b.getI64Type();
  Value product = arith::MulIOp::create(
      b, loc, arith::ExtSIOp::create(b, loc, i64, acc), fp.significand);
  Value rounded = arith::ShRSIOp::create(
      b, loc, arith::AddIOp::create(b, loc, product, fp.half), fp.shift);
  Value shifted = arith::AddIOp::create(b, loc, rounded, zeroPoint);
  Value clamped = arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, shifted, lo), hi);
  return arith::TruncIOp::create(b, loc, b.getI32Type(), clamped);
}

/// The exact fixed-point rescale of qat.requantize. A per-tensor
/// multiplier, zero-point and bounds are decoded once, before the loop
/// (LLVM cannot hoist them: it cannot prove that the output does not alias
/// them); per channel the multiplier is decoded per element.
struct RequantizeLowering : OpRewritePattern<RequantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RequantizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    Value init = emptyLike(rewriter, loc, input, rewriter.getI32Type());
    Type i64 = rewriter.getI64Type();
    auto scalar64 = [&](Value tensor) -> Value {
      return arith::ExtSIOp::create(
          rewriter, loc, i64, tensor::ExtractOp::create(rewriter, loc, tensor));
    };
    Value zeroPoint = scalar64(op.getZeroPoint());
    Value lo = scalar64(op.getMin()), hi = scalar64(op.getMax());
    SmallVector<Value> inputs{input};
    SmallVector<AffineMap> maps{identity};
    std::optional<FixedPoint> perTensor;
    if (op.getAxis()) {
      inputs.push_back(op.getMultiplier());
      maps.push_back(paramMap(getContext(), rank, op.getAxis()));
    } else {
      perTensor = fixedPoint(
          rewriter, loc,
          tensor::ExtractOp::create(rewriter, loc, op.getMultiplier()));
    }
    maps.push_back(identity);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), inputs, init, maps,
        SmallVector<IteratorType>(rank, IteratorType::parallel),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          FixedPoint fp = perTensor ? *perTensor : fixedPoint(b, loc, args[1]);
          linalg::YieldOp::create(
              b, loc, rescale(b, loc, args[0], fp, zeroPoint, lo, hi));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct StraightThroughLowering : OpRewritePattern<StraightThroughOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(StraightThroughOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, op.getValue());
    return success();
  }
};

/// Reduces `input` to its minimum and maximum over the whole tensor or per
/// index of `axis`, shaped like `stateType`. NaN propagates.
std::pair<Value, Value> reduceMinMax(OpBuilder &b, Location loc, Value input,
                                     RankedTensorType stateType,
                                     std::optional<int64_t> axis) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
  Value minInit = filledParam(b, loc, stateType, input, axis, inf);
  Value maxInit = filledParam(b, loc, stateType, input, axis, -inf);
  AffineMap state = paramMap(b.getContext(), rank, axis);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank), state, state};
  SmallVector<IteratorType> iterators(rank, IteratorType::reduction);
  if (axis)
    iterators[*axis] = IteratorType::parallel;
  auto reduce = linalg::GenericOp::create(
      b, loc, TypeRange{stateType, stateType}, input,
      ValueRange{minInit, maxInit}, maps, iterators,
      [](OpBuilder &b, Location loc, ValueRange args) {
        Value lo = arith::MinimumFOp::create(b, loc, args[0], args[1]);
        Value hi = arith::MaximumFOp::create(b, loc, args[0], args[2]);
        linalg::YieldOp::create(b, loc, ValueRange{lo, hi});
      });
  return {reduce.getResult(0), reduce.getResult(1)};
}

/// Lowers an observer: reduce the input, then merge the old state (min, max)
/// with the reduced (cur_min, cur_max) element by element.
template <typename ObserverOp>
struct ObserverLowering : OpRewritePattern<ObserverOp> {

  ObserverLowering(MLIRContext *ctx) : OpRewritePattern<ObserverOp>(ctx) {}

  virtual std::pair<Value, Value> merge(ObserverOp op, OpBuilder &b,
                                        Location loc, Value curMin,
                                        Value curMax, Value min,
                                        Value max) const = 0;

  LogicalResult matchAndRewrite(ObserverOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto stateType = cast<RankedTensorType>(op.getMin().getType());
    auto [curMin, curMax] =
        reduceMinMax(rewriter, loc, op.getInput(), stateType, op.getAxis());
    Value minInit =
        emptyLike(rewriter, loc, op.getMin(), rewriter.getF32Type());
    Value maxInit =
        emptyLike(rewriter, loc, op.getMax(), rewriter.getF32Type());
    SmallVector<Value> merged = elementwise(
        rewriter, loc, ValueRange{curMin, curMax, op.getMin(), op.getMax()},
        ValueRange{minInit, maxInit},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          auto [lo, hi] = merge(op, b, loc, args[0], args[1], args[2], args[3]);
          linalg::YieldOp::create(b, loc, ValueRange{lo, hi});
        });
    rewriter.replaceOp(op, merged);
    return success();
  }
};

struct ObserveMinMaxLowering : ObserverLowering<ObserveMinMaxOp> {
  using ObserverLowering::ObserverLowering;

  std::pair<Value, Value> merge(ObserveMinMaxOp, OpBuilder &b, Location loc,
                                Value curMin, Value curMax, Value min,
                                Value max) const override {
    return {arith::MinimumFOp::create(b, loc, curMin, min),
            arith::MaximumFOp::create(b, loc, curMax, max)};
  }
};

/// True where the state is the unobserved (+inf, -inf).
Value isUnobserved(OpBuilder &b, Location loc, Value min, Value max) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  Value minIsInf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, min,
                                         f32Constant(b, loc, inf));
  Value maxIsNegInf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                            max, f32Constant(b, loc, -inf));
  return arith::AndIOp::create(b, loc, minIsInf, maxIsNegInf);
}

struct ObserveMovingAverageMinMaxLowering
    : ObserverLowering<ObserveMovingAverageMinMaxOp> {
  using ObserverLowering::ObserverLowering;

  std::pair<Value, Value> merge(ObserveMovingAverageMinMaxOp op, OpBuilder &b,
                                Location loc, Value curMin, Value curMax,
                                Value min, Value max) const override {
    Value constant =
        f32Constant(b, loc, op.getAveragingConstant().convertToFloat());
    // state + c * (current - state), each operation rounded in f32.
    auto average = [&](Value current, Value state) -> Value {
      Value delta = arith::SubFOp::create(b, loc, current, state);
      Value step = arith::MulFOp::create(b, loc, constant, delta);
      return arith::AddFOp::create(b, loc, state, step);
    };
    Value unobserved = isUnobserved(b, loc, min, max);
    return {arith::SelectOp::create(b, loc, unobserved, curMin,
                                    average(curMin, min)),
            arith::SelectOp::create(b, loc, unobserved, curMax,
                                    average(curMax, max))};
  }
};

Value f64Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(value));
}

/// PyTorch's quant_utils::ChooseQuantizationParams for one (min, max) pair,
/// operation by operation: f32 where the C++ code uses float, f64 where it
/// uses double, and C++'s std::min/std::max as compare-and-select.
std::pair<Value, Value> kernelQParams(OpBuilder &b, Location loc, Value min,
                                      Value max, int64_t qmin, int64_t qmax,
                                      bool symmetric) {
  using Pred = arith::CmpFPredicate;
  Type f64 = b.getF64Type(), f32 = b.getF32Type();
  auto cmp = [&](Pred pred, Value lhs, Value rhs) -> Value {
    return arith::CmpFOp::create(b, loc, pred, lhs, rhs);
  };
  auto select = [&](Value cond, Value lhs, Value rhs) -> Value {
    return arith::SelectOp::create(b, loc, cond, lhs, rhs);
  };
  auto ext = [&](Value v) -> Value {
    return arith::ExtFOp::create(b, loc, f64, v);
  };
  auto trunc = [&](Value v) -> Value {
    return arith::TruncFOp::create(b, loc, f32, v);
  };
  auto straddlesZero = [&](Value lo, Value hi) -> Value {
    Value zero = f32Constant(b, loc, 0.0f);
    return arith::AndIOp::create(b, loc, cmp(Pred::OLT, lo, zero),
                                 cmp(Pred::OGT, hi, zero));
  };
  Value zero = f32Constant(b, loc, 0.0f);
  int64_t qrange = qmax - qmin;

  if (symmetric) {
    // Widen [min, max] to the symmetric range around zero.
    int64_t symmetricMin = -(qrange / 2 + 1), symmetricMax = qrange / 2;
    Value lo = math::AbsFOp::create(
        b, loc,
        arith::DivFOp::create(b, loc, min, f32Constant(b, loc, symmetricMin)));
    Value hi = math::AbsFOp::create(
        b, loc,
        arith::DivFOp::create(b, loc, max, f32Constant(b, loc, symmetricMax)));
    Value widest = ext(select(cmp(Pred::OLT, lo, hi), hi, lo));
    Value widen = straddlesZero(min, max);
    min = select(widen,
                 trunc(arith::MulFOp::create(
                     b, loc, widest, f64Constant(b, loc, symmetricMin))),
                 min);
    max = select(widen,
                 trunc(arith::MulFOp::create(
                     b, loc, widest, f64Constant(b, loc, symmetricMax))),
                 max);
  }
  min = select(cmp(Pred::OLT, zero, min), zero, min); // std::min(min, 0.f)
  max = select(cmp(Pred::OLT, max, zero), zero, max); // std::max(max, 0.f)

  Value scale = arith::DivFOp::create(
      b, loc, arith::SubFOp::create(b, loc, ext(max), ext(min)),
      f64Constant(b, loc, qrange));
  Value scaleF = trunc(scale);
  Value inverse =
      arith::DivFOp::create(b, loc, f32Constant(b, loc, 1.0f), scaleF);
  Value degenerate = arith::OrIOp::create(
      b, loc, cmp(Pred::OEQ, scaleF, zero),
      cmp(Pred::OEQ, math::AbsFOp::create(b, loc, inverse),
          f32Constant(b, loc, std::numeric_limits<float>::infinity())));
  scale = select(degenerate, f64Constant(b, loc, 0.1), scale);

  // Scales below 6.1e-5f are raised to it, and the range scaled to match.
  constexpr float smallScale = 6.1e-5f;
  Value small = cmp(Pred::OLT, scale, f64Constant(b, loc, smallScale));
  Value amplifier = arith::DivFOp::create(
      b, loc, f32Constant(b, loc, smallScale), trunc(scale));
  Value minIsZero = cmp(Pred::OEQ, min, zero);
  Value maxIsZero = cmp(Pred::OEQ, max, zero);
  Value range = f32Constant(b, loc, static_cast<float>(qrange));
  Value smallMin =
      select(minIsZero, min,
             select(maxIsZero,
                    arith::MulFOp::create(
                        b, loc, f32Constant(b, loc, -smallScale), range),
                    arith::MulFOp::create(b, loc, min, amplifier)));
  Value smallMax = select(
      minIsZero,
      arith::MulFOp::create(b, loc, f32Constant(b, loc, smallScale), range),
      select(maxIsZero, max, arith::MulFOp::create(b, loc, max, amplifier)));
  min = select(small, smallMin, min);
  max = select(small, smallMax, max);
  scale = select(small, f64Constant(b, loc, smallScale), scale);

  // The zero-point from whichever end adds the smaller terms.
  Value minOverScale = arith::DivFOp::create(b, loc, ext(min), scale);
  Value maxOverScale = arith::DivFOp::create(b, loc, ext(max), scale);
  Value fromMin =
      arith::SubFOp::create(b, loc, f64Constant(b, loc, qmin), minOverScale);
  Value fromMax =
      arith::SubFOp::create(b, loc, f64Constant(b, loc, qmax), maxOverScale);
  Value errorMin =
      arith::SubFOp::create(b, loc, f64Constant(b, loc, std::abs(qmin)),
                            math::AbsFOp::create(b, loc, minOverScale));
  Value errorMax =
      arith::SubFOp::create(b, loc, f64Constant(b, loc, std::abs(qmax)),
                            math::AbsFOp::create(b, loc, maxOverScale));
  Value initial = select(cmp(Pred::OLT, errorMin, errorMax), fromMin, fromMax);
  if (symmetric)
    initial = select(straddlesZero(min, max),
                     f64Constant(b, loc, static_cast<double>(qmin + qmax) / 2),
                     initial);
  Value rounded = arith::FPToSIOp::create(
      b, loc, b.getI32Type(), math::RoundEvenOp::create(b, loc, initial));
  Value zeroPoint =
      select(cmp(Pred::OLT, initial, f64Constant(b, loc, qmin)),
             i32Constant(b, loc, qmin),
             select(cmp(Pred::OGT, initial, f64Constant(b, loc, qmax)),
                    i32Constant(b, loc, qmax), rounded));
  return {trunc(scale), zeroPoint};
}

/// The observers' _calculate_qparams for one (min, max) pair, in f32.
std::pair<Value, Value> observerQParams(OpBuilder &b, Location loc, Value min,
                                        Value max, int64_t qmin, int64_t qmax,
                                        bool symmetric, bool isUnsigned,
                                        float eps) {
  Value zero = f32Constant(b, loc, 0.0f);
  Value minNeg = arith::MinimumFOp::create(b, loc, min, zero);
  Value maxPos = arith::MaximumFOp::create(b, loc, max, zero);
  Value scale, zeroPoint;
  if (symmetric) {
    Value negMin = arith::NegFOp::create(b, loc, minNeg);
    Value bound = arith::MaximumFOp::create(b, loc, negMin, maxPos);
    Value halfRange = f32Constant(b, loc, float(qmax - qmin) / 2.0f);
    scale = arith::DivFOp::create(b, loc, bound, halfRange);
    scale = arith::MaximumFOp::create(b, loc, scale, f32Constant(b, loc, eps));
    zeroPoint = i32Constant(b, loc, isUnsigned ? (qmin + qmax + 1) / 2 : 0);
  } else {
    Value width = arith::SubFOp::create(b, loc, maxPos, minNeg);
    scale =
        arith::DivFOp::create(b, loc, width, f32Constant(b, loc, qmax - qmin));
    scale = arith::MaximumFOp::create(b, loc, scale, f32Constant(b, loc, eps));
    Value offset = math::RoundEvenOp::create(
        b, loc, arith::DivFOp::create(b, loc, minNeg, scale));
    Value offsetInt = arith::FPToSIOp::create(b, loc, b.getI32Type(), offset);
    zeroPoint =
        arith::SubIOp::create(b, loc, i32Constant(b, loc, qmin), offsetInt);
    zeroPoint = arith::MinSIOp::create(
        b, loc,
        arith::MaxSIOp::create(b, loc, zeroPoint, i32Constant(b, loc, qmin)),
        i32Constant(b, loc, qmax));
  }
  return {scale, zeroPoint};
}

struct ChooseQParamsLowering : OpRewritePattern<ChooseQParamsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ChooseQParamsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    bool symmetric = op.getScheme() == QuantScheme::symmetric;
    bool isUnsigned = cast<IntegerType>(op.getStorageType()).isUnsigned();
    bool kernelRule = op.getRule() == QParamsRule::fake_quant_kernel;
    float eps = op.getEps().convertToFloat();

    Value scaleInit =
        emptyLike(rewriter, loc, op.getMin(), rewriter.getF32Type());
    Value zpInit = emptyLike(rewriter, loc, op.getMin(), rewriter.getI32Type());
    SmallVector<Value> results = elementwise(
        rewriter, loc, ValueRange{op.getMin(), op.getMax()},
        ValueRange{scaleInit, zpInit},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          auto [scale, zeroPoint] =
              kernelRule ? kernelQParams(b, loc, args[0], args[1], qmin, qmax,
                                         symmetric)
                         : observerQParams(b, loc, args[0], args[1], qmin, qmax,
                                           symmetric, isUnsigned, eps);
          // PyTorch's observers return (1.0, 0) for a range never observed
          // (its kernel would raise; the same values keep the op total).
          Value unobserved = isUnobserved(b, loc, args[0], args[1]);
          scale = arith::SelectOp::create(b, loc, unobserved,
                                          f32Constant(b, loc, 1.0f), scale);
          zeroPoint = arith::SelectOp::create(
              b, loc, unobserved, i32Constant(b, loc, 0), zeroPoint);
          linalg::YieldOp::create(b, loc, ValueRange{scale, zeroPoint});
        });
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// Inside a linalg.generic over a tensor of dimensions `sizes`: the
/// element's row-major index as i64, the counter of the random numbers.
Value rowMajorIndex(OpBuilder &b, Location loc, ArrayRef<Value> sizes) {
  Value index = arith::ConstantIndexOp::create(b, loc, 0);
  for (auto [dim, size] : llvm::enumerate(sizes)) {
    index = arith::MulIOp::create(b, loc, index, size);
    index = arith::AddIOp::create(b, loc, index,
                                  linalg::IndexOp::create(b, loc, dim));
  }
  return arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
}

/// Vigna's SplitMix64 finalizer on wrapping i64 arithmetic.
Value splitMix64(OpBuilder &b, Location loc, Value z) {
  auto constant = [&](uint64_t value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getI64IntegerAttr(static_cast<int64_t>(value)));
  };
  auto mixStep = [&](Value v, int shift, uint64_t multiplier) -> Value {
    Value shifted = arith::ShRUIOp::create(b, loc, v, constant(shift));
    return arith::MulIOp::create(b, loc,
                                 arith::XOrIOp::create(b, loc, v, shifted),
                                 constant(multiplier));
  };
  z = arith::AddIOp::create(b, loc, z, constant(0x9E3779B97F4A7C15ull));
  z = mixStep(z, 30, 0xBF58476D1CE4E5B9ull);
  z = mixStep(z, 27, 0x94D049BB133111EBull);
  return arith::XOrIOp::create(b, loc, z,
                               arith::ShRUIOp::create(b, loc, z, constant(31)));
}

struct DropoutLowering : OpRewritePattern<DropoutOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DropoutOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    auto type = cast<RankedTensorType>(input.getType());
    int64_t rank = type.getRank();
    float probability = op.getProbability().convertToFloat();
    float keepScale = 1.0f / (1.0f - probability);
    uint64_t streamKey =
        static_cast<uint64_t>(op.getStream()) * 0x9E3779B97F4A7C15ull;

    SmallVector<Value> sizes;
    for (int64_t dim = 0; dim < rank; ++dim)
      sizes.push_back(tensor::DimOp::create(rewriter, loc, input, dim));
    Value init = emptyLike(rewriter, loc, input, rewriter.getF32Type());
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<AffineMap> maps = {
        identity, AffineMap::get(rank, 0, {}, getContext()), identity};
    SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), ValueRange{input, op.getSeed()}, init,
        maps, iterators, [&](OpBuilder &b, Location loc, ValueRange args) {
          Value counter = rowMajorIndex(b, loc, sizes);
          Value key = arith::XOrIOp::create(
              b, loc, args[1],
              arith::ConstantOp::create(
                  b, loc,
                  b.getI64IntegerAttr(static_cast<int64_t>(streamKey))));
          Value hash = splitMix64(
              b, loc,
              arith::XOrIOp::create(b, loc, key, splitMix64(b, loc, counter)));
          Value top24 = arith::ShRUIOp::create(
              b, loc, hash,
              arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(40)));
          Value uniform = arith::MulFOp::create(
              b, loc, arith::UIToFPOp::create(b, loc, b.getF32Type(), top24),
              f32Constant(b, loc, 0x1p-24f));
          Value dropped =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, uniform,
                                    f32Constant(b, loc, probability));
          Value kept = arith::MulFOp::create(b, loc, args[0],
                                             f32Constant(b, loc, keepScale));
          linalg::YieldOp::create(
              b, loc,
              arith::SelectOp::create(b, loc, dropped,
                                      f32Constant(b, loc, 0.0f), kept)
                  .getResult());
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// Mean softmax cross-entropy in three reductions: the row maximum; the sum
/// of exp(x - max) with the logit at the label picked on the way; and the
/// sum over rows of log(sum) + max - picked, divided by the row count.
struct SoftmaxCrossEntropyLowering : OpRewritePattern<SoftmaxCrossEntropyOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SoftmaxCrossEntropyOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = op.getLogits(), labels = op.getLabels();
    MLIRContext *ctx = getContext();
    Type f32 = rewriter.getF32Type();
    auto rowType = RankedTensorType::get(
        {cast<RankedTensorType>(logits.getType()).getDimSize(0)}, f32);
    auto filledRow = [&](float value) {
      Value empty = emptyTensor(rewriter, loc, rowType, logits, {0});
      return linalg::FillOp::create(rewriter, loc,
                                    f32Constant(rewriter, loc, value), empty)
          .getResult(0);
    };
    AffineExpr n = getAffineDimExpr(0, ctx), c = getAffineDimExpr(1, ctx);
    AffineMap full = AffineMap::get(2, 0, {n, c}, ctx);
    AffineMap row = AffineMap::get(2, 0, {n}, ctx);
    SmallVector<IteratorType> rowsByClasses = {IteratorType::parallel,
                                               IteratorType::reduction};

    Value rowMax = linalg::GenericOp::create(
                       rewriter, loc, rowType, logits,
                       filledRow(-std::numeric_limits<float>::infinity()),
                       ArrayRef<AffineMap>{full, row}, rowsByClasses,
                       [](OpBuilder &b, Location loc, ValueRange args) {
                         linalg::YieldOp::create(
                             b, loc,
                             arith::MaximumFOp::create(b, loc, args[1], args[0])
                                 .getResult());
                       })
                       .getResult(0);

    auto sums = linalg::GenericOp::create(
        rewriter, loc, TypeRange{rowType, rowType},
        ValueRange{logits, rowMax, labels},
        ValueRange{filledRow(0.0f), filledRow(0.0f)},
        ArrayRef<AffineMap>{full, row, row, row, row}, rowsByClasses,
        [](OpBuilder &b, Location loc, ValueRange args) {
          Value shifted = arith::SubFOp::create(b, loc, args[0], args[1]);
          Value sum = arith::AddFOp::create(
              b, loc, args[3], math::ExpOp::create(b, loc, shifted));
          Value label =
              arith::IndexCastOp::create(b, loc, b.getIndexType(), args[2]);
          Value isLabel =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                    linalg::IndexOp::create(b, loc, 1), label);
          Value picked =
              arith::SelectOp::create(b, loc, isLabel, args[0], args[4]);
          linalg::YieldOp::create(b, loc, ValueRange{sum, picked});
        });

    auto scalarType = RankedTensorType::get({}, f32);
    Value zero =
        linalg::FillOp::create(
            rewriter, loc, f32Constant(rewriter, loc, 0.0f),
            tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{}, f32)
                .getResult())
            .getResult(0);
    AffineMap rowId = AffineMap::get(1, 0, getAffineDimExpr(0, ctx), ctx);
    AffineMap scalar = AffineMap::get(1, 0, {}, ctx);
    Value rows = arith::IndexCastUIOp::create(
        rewriter, loc, rewriter.getI64Type(),
        tensor::DimOp::create(rewriter, loc, logits, 0));
    Value rowCount = arith::UIToFPOp::create(rewriter, loc, f32, rows);
    Value total =
        linalg::GenericOp::create(
            rewriter, loc, scalarType,
            ValueRange{sums.getResult(0), rowMax, sums.getResult(1)}, zero,
            ArrayRef<AffineMap>{rowId, rowId, rowId, scalar},
            IteratorType::reduction,
            [](OpBuilder &b, Location loc, ValueRange args) {
              Value logSum = math::LogOp::create(b, loc, args[0]);
              Value rowLoss = arith::SubFOp::create(
                  b, loc, arith::AddFOp::create(b, loc, logSum, args[1]),
                  args[2]);
              linalg::YieldOp::create(
                  b, loc,
                  arith::AddFOp::create(b, loc, args[3], rowLoss).getResult());
            })
            .getResult(0);
    Value mean =
        linalg::GenericOp::create(
            rewriter, loc, scalarType, total,
            tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{}, f32)
                .getResult(),
            ArrayRef<AffineMap>{AffineMap::get(0, 0, {}, ctx),
                                AffineMap::get(0, 0, {}, ctx)},
            ArrayRef<IteratorType>{},
            [&](OpBuilder &b, Location loc, ValueRange args) {
              linalg::YieldOp::create(
                  b, loc,
                  arith::DivFOp::create(b, loc, args[0], rowCount).getResult());
            })
            .getResult(0);
    rewriter.replaceOp(op, mean);
    return success();
  }
};

/// GradBoost: a 0-d generic computes the two f64-rounded-to-f32 factors,
/// then one elementwise generic updates the statistics and adds the noise,
/// in the order of the op's documented formulas.
struct GradBoostLowering : OpRewritePattern<GradBoostOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GradBoostOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Type f32 = rewriter.getF32Type(), f64 = rewriter.getF64Type();
    double beta = op.getBeta().convertToFloat();
    double decay = op.getDecay().convertToFloat();
    float betaF = op.getBeta().convertToFloat();
    float clip = op.getClip().convertToFloat();
    float coinProbability = op.getCoinProbability().convertToFloat();
    bool corrected = op.getVariant() == GradBoostVariant::corrected;
    uint64_t streamKey =
        static_cast<uint64_t>(op.getStream()) * 0x9E3779B97F4A7C15ull;

    // 1 - beta^t and (1 - decay)^k, in f64, rounded to f32.
    auto scalarType = RankedTensorType::get({}, f32);
    AffineMap scalar0 = AffineMap::get(0, 0, {}, ctx);
    auto empty = [&](RankedTensorType type) {
      return tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                     type.getElementType())
          .getResult();
    };
    auto factors = linalg::GenericOp::create(
        rewriter, loc, TypeRange{scalarType, scalarType},
        ValueRange{op.getStep(), op.getQatSteps()},
        ValueRange{empty(scalarType), empty(scalarType)},
        SmallVector<AffineMap>(4, scalar0), ArrayRef<IteratorType>{},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          auto f64Constant = [&](double value) -> Value {
            return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(value));
          };
          Value t = arith::SIToFPOp::create(b, loc, f64, args[0]);
          Value k = arith::SIToFPOp::create(b, loc, f64, args[1]);
          Value correction = arith::SubFOp::create(
              b, loc, f64Constant(1.0),
              math::PowFOp::create(b, loc, f64Constant(beta), t));
          Value decayFactor =
              math::PowFOp::create(b, loc, f64Constant(1.0 - decay), k);
          linalg::YieldOp::create(
              b, loc,
              ValueRange{arith::TruncFOp::create(b, loc, f32, correction),
                         arith::TruncFOp::create(b, loc, f32, decayFactor)});
        });

    Value gradient = op.getGradient();
    auto type = cast<RankedTensorType>(gradient.getType());
    int64_t rank = type.getRank();
    SmallVector<Value> sizes;
    for (int64_t dim = 0; dim < rank; ++dim)
      sizes.push_back(tensor::DimOp::create(rewriter, loc, gradient, dim));
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap scalar = AffineMap::get(rank, 0, {}, ctx);
    SmallVector<AffineMap> maps = {identity, identity, identity, scalar,
                                   scalar,   scalar,   scalar,   scalar,
                                   identity, identity, identity};
    SmallVector<Value> inits;
    for (int i = 0; i < 3; ++i)
      inits.push_back(emptyLike(rewriter, loc, gradient, f32));
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type, type, type},
        ValueRange{gradient, op.getMaxStat(), op.getMinStat(),
                   factors.getResult(0), factors.getResult(1), op.getStep(),
                   op.getSeed(), op.getNoise()},
        inits, maps, SmallVector<IteratorType>(rank, IteratorType::parallel),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          auto c = [&](float value) { return f32Constant(b, loc, value); };
          auto i64 = [&](uint64_t value) -> Value {
            return arith::ConstantOp::create(
                b, loc, b.getI64IntegerAttr(static_cast<int64_t>(value)));
          };
          Value g = args[0], max = args[1], min = args[2];
          Value correction = args[3], decayFactor = args[4], t = args[5];
          Value a = math::AbsFOp::create(b, loc, g);
          Value beta = c(betaF), oneMinusBeta = c(1.0f - betaF);
          auto average = [&](Value stat, Value extreme) -> Value {
            return arith::AddFOp::create(
                b, loc, arith::MulFOp::create(b, loc, beta, stat),
                arith::MulFOp::create(b, loc, oneMinusBeta, extreme));
          };
          Value newMax =
              average(max, arith::MaximumFOp::create(b, loc, max, a));
          Value newMin =
              average(min, arith::MinimumFOp::create(b, loc, min, a));
          Value spread;
          if (corrected) {
            Value first = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::eq, t, i64(1));
            newMin = arith::SelectOp::create(b, loc, first, a, newMin);
            spread = arith::SubFOp::create(
                b, loc, arith::DivFOp::create(b, loc, newMax, correction),
                newMin);
          } else {
            newMax = arith::DivFOp::create(b, loc, newMax, correction);
            newMin = arith::DivFOp::create(b, loc, newMin, correction);
            spread = arith::SubFOp::create(b, loc, newMax, newMin);
          }
          Value delta = arith::MulFOp::create(b, loc, spread, decayFactor);

          // Two 24-bit uniforms from one hash of (seed, step, stream, index).
          Value counter = rowMajorIndex(b, loc, sizes);
          Value stepKey = splitMix64(
              b, loc, arith::XOrIOp::create(b, loc, t, i64(streamKey)));
          Value hash = splitMix64(
              b, loc,
              arith::XOrIOp::create(
                  b, loc, arith::XOrIOp::create(b, loc, args[6], stepKey),
                  splitMix64(b, loc, counter)));
          auto uniform = [&](Value bits) -> Value {
            return arith::MulFOp::create(
                b, loc, arith::UIToFPOp::create(b, loc, b.getF32Type(), bits),
                c(0x1p-24f));
          };
          Value u = uniform(arith::AddIOp::create(
              b, loc, arith::ShRUIOp::create(b, loc, hash, i64(40)), i64(1)));
          Value coinDraw = uniform(arith::AndIOp::create(
              b, loc, arith::ShRUIOp::create(b, loc, hash, i64(16)),
              i64(0xFFFFFF)));
          Value magnitude =
              arith::NegFOp::create(b, loc, math::LogOp::create(b, loc, u));
          Value heads = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                              coinDraw, c(coinProbability));
          Value coin = arith::SelectOp::create(b, loc, heads, c(1.0f), c(0.0f));
          Value positive = arith::CmpFOp::create(
              b, loc, arith::CmpFPredicate::OGT, g, c(0.0f));
          Value negative = arith::CmpFOp::create(
              b, loc, arith::CmpFPredicate::OLT, g, c(0.0f));
          Value sign = arith::SelectOp::create(
              b, loc, positive, c(1.0f),
              arith::SelectOp::create(b, loc, negative, c(-1.0f), c(0.0f)));
          Value noise = arith::MulFOp::create(
              b, loc,
              arith::MulFOp::create(
                  b, loc, arith::MulFOp::create(b, loc, magnitude, delta),
                  coin),
              sign);
          noise = arith::MinimumFOp::create(
              b, loc, arith::MaximumFOp::create(b, loc, noise, c(-clip)),
              c(clip));
          Value on = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE,
                                           args[7], c(0.0f));
          Value boosted = arith::SelectOp::create(
              b, loc, on, arith::AddFOp::create(b, loc, g, noise), g);
          linalg::YieldOp::create(b, loc, ValueRange{boosted, newMax, newMin});
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

} // namespace

void mlir::qat::populateQatToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<FakeQuantLowering, FakeQuantMaskLowering, ObserveMinMaxLowering,
               ObserveMovingAverageMinMaxLowering, ChooseQParamsLowering,
               DropoutLowering, SoftmaxCrossEntropyLowering, GradBoostLowering,
               QuantizeLowering, DequantizeLowering, RequantizeLowering,
               StraightThroughLowering>(patterns.getContext());
}
