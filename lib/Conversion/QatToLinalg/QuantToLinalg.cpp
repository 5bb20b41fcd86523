//===- QuantToLinalg.cpp - quantization ops to linalg ---------------------===//
//
// Part of qat-mlir. Fake quantization, quantize, dequantize,
// requantize and the straight-through estimator.
//
//===----------------------------------------------------------------------===//

#include "LinalgHelpers.h"
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
using namespace mlir::qat::to_linalg;

namespace {

using utils::IteratorType;

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

} // namespace

void mlir::qat::populateQuantToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<FakeQuantLowering, FakeQuantMaskLowering, QuantizeLowering,
               DequantizeLowering, RequantizeLowering, StraightThroughLowering>(
      patterns.getContext());
}
