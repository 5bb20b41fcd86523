//===- InterchangeLoops.cpp - contiguous output loop innermost --*- C++ -*-===//
//
// Part of qat-mlir. The --qat-interchange-loops pass.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "LoopUtils.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_INTERCHANGELOOPSPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// The loop to run innermost: the one that walks the output's last
/// (contiguous) dimension one element at a time. A parallel loop if that
/// dimension is one (`out[.., ow]`); for a scatter (`dx[.., ow + kw]`, a
/// convolution's input gradient) the longest of the reduction loops that
/// step it by one, so that the vector loop is `ow` and not the 3-wide `kw`.
std::optional<unsigned> contiguousLoop(linalg::LinalgOp op) {
  AffineMap outputMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outputMap.getNumResults() == 0)
    return std::nullopt;
  AffineExpr last = outputMap.getResults().back();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (auto dim = dyn_cast<AffineDimExpr>(last)) {
    if (iterators[dim.getPosition()] != utils::IteratorType::parallel)
      return std::nullopt;
    return dim.getPosition();
  }
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  std::optional<unsigned> longest;
  for (unsigned loop = 0; loop < op.getNumLoops(); ++loop) {
    if (!isUnitStep(last, loop, op.getNumLoops()) ||
        ShapedType::isDynamic(ranges[loop]) ||
        llvm::any_of(outputMap.getResults().drop_back(), [&](AffineExpr expr) {
          return expr.isFunctionOfDim(loop);
        }))
      continue;
    if (!longest || ranges[loop] > ranges[*longest])
      longest = loop;
  }
  return longest;
}

struct InterchangeLoopsPass
    : qat::impl::InterchangeLoopsPassBase<InterchangeLoopsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> candidates;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (op.getNumReductionLoops() > 0 && op.getNumDpsInits() == 1 &&
          !isa<linalg::FillOp>(op))
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      std::optional<unsigned> innermost = contiguousLoop(op);
      unsigned numLoops = op.getNumLoops();
      if (!innermost || *innermost == numLoops - 1)
        continue;
      rewriter.setInsertionPoint(op);
      linalg::GenericOp generic = dyn_cast<linalg::GenericOp>(*op);
      if (!generic) {
        FailureOr<linalg::GenericOp> generalized =
            linalg::generalizeNamedOp(rewriter, op);
        if (failed(generalized))
          continue;
        generic = *generalized;
      }
      SmallVector<unsigned> order;
      for (unsigned loop = 0; loop < numLoops; ++loop)
        if (loop != *innermost)
          order.push_back(loop);
      order.push_back(*innermost);
      (void)linalg::interchangeGenericOp(rewriter, generic, order);
    }
  }
};

} // namespace
