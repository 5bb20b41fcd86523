//===- QatToTosa.cpp - expand qat ops into tosa -----------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/QatToTosa/QatToTosa.h"
#include "qat/Dialect/Qat/Gradients/GradientUtils.h"
#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::gradients;

namespace {

/// qat.batch_norm as the formulas of its description, op by op.
struct ExpandBatchNorm : OpRewritePattern<BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(BatchNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = typeOf(op.getInput());
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    int64_t rank = type.getRank();
    Value mean, variance;
    Value newMean = op.getRunningMean(), newVariance = op.getRunningVar();
    if (op.getTraining()) {
      ChannelStatistics stats = channelStatistics(rewriter, loc, op.getInput());
      mean = stats.mean;
      variance = stats.variance;
      float momentum = op.getMomentum().convertToFloat();
      Value unbiased = mul(rewriter, loc, variance,
                           scalar(rewriter, loc,
                                  static_cast<float>(stats.count) /
                                      static_cast<float>(stats.count - 1),
                                  rank));
      auto blend = [&](Value running, Value batch) {
        Value kept = mul(rewriter, loc, running,
                         scalar(rewriter, loc, 1.0f - momentum, 1));
        Value batchVector =
            reshape(rewriter, loc, batch, typeOf(running).getShape());
        return add(rewriter, loc, kept,
                   mul(rewriter, loc, batchVector,
                       scalar(rewriter, loc, momentum, 1)));
      };
      newMean = blend(op.getRunningMean(), mean);
      newVariance = blend(op.getRunningVar(), unbiased);
    } else {
      mean = channelVector(rewriter, loc, op.getRunningMean(), rank);
      variance = channelVector(rewriter, loc, op.getRunningVar(), rank);
    }
    Value epsilon =
        scalar(rewriter, loc, op.getEpsilon().convertToFloat(), rank);
    Value invStd = tosa::RsqrtOp::create(rewriter, loc, typeOf(variance),
                                         add(rewriter, loc, variance, epsilon));
    Value output =
        mul(rewriter, loc, sub(rewriter, loc, op.getInput(), mean), invStd);
    output = mul(rewriter, loc, output,
                 channelVector(rewriter, loc, op.getWeight(), rank));
    output = add(rewriter, loc, output,
                 channelVector(rewriter, loc, op.getBias(), rank));
    rewriter.replaceOp(op, {output, newMean, newVariance});
    return success();
  }
};

} // namespace

void mlir::qat::populateQatToTosaConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ExpandBatchNorm>(patterns.getContext());
}
