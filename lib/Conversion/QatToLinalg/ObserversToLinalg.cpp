//===- ObserversToLinalg.cpp - observers to linalg ------------------------===//
//
// Part of qat-mlir. The observers and qat.choose_qparams.
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
    if (op.getAcrossReplicas()) {
      // The global batch's range, before it meets the state: merging is
      // monotone, but the step's fake quantization reads the merged state.
      curMin = AllReduceOp::create(rewriter, loc, ReduceKind::min, curMin);
      curMax = AllReduceOp::create(rewriter, loc, ReduceKind::max, curMax);
    }
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

} // namespace

void mlir::qat::populateObserversToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<ObserveMinMaxLowering, ObserveMovingAverageMinMaxLowering,
               ChooseQParamsLowering>(patterns.getContext());
}
