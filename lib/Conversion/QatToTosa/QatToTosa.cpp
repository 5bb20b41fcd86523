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
using namespace mlir::qat::builders;
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
    BatchNormalization normalization = normalize(rewriter, op);
    Value output = mul(rewriter, loc, normalization.normalized,
                       channelVector(rewriter, loc, op.getWeight(), rank));
    output = add(rewriter, loc, output,
                 channelVector(rewriter, loc, op.getBias(), rank));
    Value newMean = op.getRunningMean(), newVariance = op.getRunningVar();
    if (op.getTraining()) {
      // Running statistics move towards the batch's, with the unbiased
      // variance.
      float momentum = op.getMomentum().convertToFloat();
      int64_t count = normalization.count;
      Value unbiased =
          mul(rewriter, loc, normalization.variance,
              scalar(rewriter, loc,
                     static_cast<float>(count) / static_cast<float>(count - 1),
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
      newMean = blend(op.getRunningMean(), normalization.mean);
      newVariance = blend(op.getRunningVar(), unbiased);
    }
    rewriter.replaceOp(op, {output, newMean, newVariance});
    return success();
  }
};

/// A replicated parameter's forward value is the parameter; only its
/// gradient, built before this, differs.
struct DropReplicatedParameter : OpRewritePattern<ReplicatedParameterOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ReplicatedParameterOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, op.getParameter());
    return success();
  }
};

} // namespace

void mlir::qat::populateQatToTosaConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ExpandBatchNorm, DropReplicatedParameter>(patterns.getContext());
}
