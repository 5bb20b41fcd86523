//===- TrainingOpsToLinalg.cpp - training ops to linalg -------------------===//
//
// Part of qat-mlir. Dropout, the softmax cross-entropy loss
// and GradBoost's update.
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

void mlir::qat::populateTrainingOpsToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DropoutLowering, SoftmaxCrossEntropyLowering, GradBoostLowering>(
      patterns.getContext());
}
