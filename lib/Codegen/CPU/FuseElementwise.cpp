//===- FuseElementwise.cpp - elementwise fusion, no broadcast recompute ---===//
//
// Part of qat-mlir. The --qat-fuse-elementwise pass.
//
//===----------------------------------------------------------------------===//

#include "ConvLoops.h"

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qat {
#define GEN_PASS_DEF_FUSEELEMENTWISEPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

bool hasOneUseProducer(OpOperand *fused) {
  Operation *producer = fused->get().getDefiningOp();
  return producer && producer->hasOneUse();
}

/// Upstream's rule (a producer with one use), unless the consumer reads the
/// producer through a broadcast and the producer computes something: fused,
/// that computation would run once per consumer point instead of once per
/// producer point.
bool fusesWithoutRecompute(OpOperand *fused) {
  if (!hasOneUseProducer(fused))
    return false;
  auto consumer = dyn_cast<linalg::LinalgOp>(fused->getOwner());
  auto producer = fused->get().getDefiningOp<linalg::GenericOp>();
  // A convolution left for --qat-lower-direct-conv keeps its three maps.
  if (consumer && matchConv(consumer))
    return false;
  if (!consumer || !producer)
    return true;
  if (consumer.getMatchingIndexingMap(fused).isPermutation())
    return true;
  // Only the terminator: a plain copy (broadcast), free to fuse.
  return producer.getBody()->without_terminator().empty();
}

/// Fuses a producer that has other users into an all-parallel consumer that
/// reads it point for point, keeping the producer's results as results of
/// the fused op for those users (upstream's fusion computes them but hands
/// them to nobody, so the producer would stay and be recomputed). The fused
/// op writes what both wrote and saves reading the producer's result back:
/// batch norm's normalized input, its scaled output and the ReLU after it
/// become one pass instead of three.
///
/// Only when every other user comes after the consumer (the fused op takes
/// its place), and not for a producer that reads its destination or changes
/// layout (a transpose stays one op, for --qat-vectorize-transposes).
struct FuseKeepingProducerResults : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  /// Whether every result and every full-size input (a permutation map:
  /// broadcasts aside) of `producer` has the same layout, and no result
  /// reads its destination.
  static bool keepsLayout(linalg::GenericOp producer) {
    AffineMap resultMap =
        producer.getMatchingIndexingMap(producer.getDpsInitOperand(0));
    return llvm::all_of(producer.getDpsInitsMutable(),
                        [&](OpOperand &init) {
                          return !producer.payloadUsesValueFromOperand(&init) &&
                                 producer.getMatchingIndexingMap(&init) ==
                                     resultMap;
                        }) &&
           llvm::all_of(producer.getDpsInputOperands(), [&](OpOperand *input) {
             AffineMap map = producer.getMatchingIndexingMap(input);
             return !map.isPermutation() || map == resultMap;
           });
  }

  /// A consumer with one use, by a generic or a linalg.reduce (which becomes
  /// one) or through a reshape, may be fused into that user and never
  /// written: then keeping the producer's results would add a write (the
  /// square that batch norm's variance sums).
  static bool mayFuseIntoItsUser(linalg::GenericOp consumer) {
    return consumer->hasOneUse() &&
           isa<linalg::GenericOp, linalg::ReduceOp, tensor::ExpandShapeOp,
               tensor::CollapseShapeOp>(*consumer->user_begin());
  }

  /// Whether `consumer` reads one value of `producer`, once: fused through
  /// one operand, the producer would stay for the others.
  static bool readsOnce(linalg::GenericOp consumer, Operation *producer) {
    return llvm::count_if(consumer->getOperands(), [&](Value operand) {
             return operand.getDefiningOp() == producer;
           }) == 1;
  }

  /// Whether every user of `producer` but `consumer` comes after it in its
  /// block: the fused op, in the consumer's place, must dominate them.
  static bool otherUsersFollow(Operation *producer, Operation *consumer) {
    Block *block = consumer->getBlock();
    return llvm::all_of(producer->getUsers(), [&](Operation *user) {
      if (user == consumer)
        return true;
      Operation *inBlock = block->findAncestorOpInBlock(*user);
      return inBlock && inBlock != consumer &&
             consumer->isBeforeInBlock(inBlock);
    });
  }

  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    if (consumer.getNumParallelLoops() != consumer.getNumLoops() ||
        mayFuseIntoItsUser(consumer))
      return failure();
    for (OpOperand *operand : consumer.getDpsInputOperands()) {
      auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
      if (!producer || producer->hasOneUse() ||
          producer->getBlock() != consumer->getBlock() ||
          !consumer.getMatchingIndexingMap(operand).isPermutation() ||
          !linalg::areElementwiseOpsFusable(operand) ||
          !keepsLayout(producer) || !otherUsersFollow(producer, consumer) ||
          !readsOnce(consumer, producer))
        continue;
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, operand);
      if (failed(fused))
        return failure();
      for (auto [original, replacement] : fused->replacements)
        rewriter.replaceAllUsesWith(original, replacement);
      rewriter.eraseOp(consumer);
      rewriter.eraseOp(producer);
      return success();
    }
    return failure();
  }
};

/// A transpose of outer dimensions (the innermost one stays) whose input is
/// an elementwise op's single use, as a generic: the op then fuses into it
/// and writes the transposed layout itself. Batch norm's input gradient,
/// transposed for the weight gradient's product, was written and copied.
/// Rows stay contiguous, so the fused op still runs on vectors.
void generalizeRowTransposesOfElementwise(Operation *root) {
  IRRewriter rewriter(root->getContext());
  SmallVector<linalg::TransposeOp> transposes;
  root->walk([&](linalg::TransposeOp transpose) {
    ArrayRef<int64_t> permutation = transpose.getPermutation();
    auto producer = transpose.getInput().getDefiningOp<linalg::GenericOp>();
    if (!permutation.empty() &&
        permutation.back() == static_cast<int64_t>(permutation.size()) - 1 &&
        transpose.hasPureTensorSemantics() && producer &&
        producer->hasOneUse() &&
        producer.getNumParallelLoops() == producer.getNumLoops())
      transposes.push_back(transpose);
  });
  for (linalg::TransposeOp transpose : transposes) {
    rewriter.setInsertionPoint(transpose);
    (void)linalg::generalizeNamedOp(rewriter, transpose);
  }
}

struct FuseElementwisePass
    : qat::impl::FuseElementwisePassBase<FuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    generalizeRowTransposesOfElementwise(getOperation());
    RewritePatternSet patterns(context);
    // The pattern set of upstream's linalg-fuse-elementwise-ops, with the
    // broadcast rule for the fusion itself.
    linalg::populateElementwiseOpsFusionPatterns(patterns,
                                                 fusesWithoutRecompute);
    patterns.add<FuseKeepingProducerResults>(context);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns,
                                                      hasOneUseProducer);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, context);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, context);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, context);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, context);
    context->getLoadedDialect<linalg::LinalgDialect>()
        ->getCanonicalizationPatterns(patterns);
    linalg::populateConstantFoldLinalgOperations(patterns, hasOneUseProducer);
    // Top-down, as upstream: compile time on graphs of thousands of ops.
    if (failed(applyPatternsGreedily(
            getOperation(), std::move(patterns),
            GreedyRewriteConfig().setUseTopDownTraversal(true))))
      signalPassFailure();
  }
};

} // namespace
