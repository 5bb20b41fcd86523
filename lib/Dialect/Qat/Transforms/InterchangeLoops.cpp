//===- InterchangeLoops.cpp - contiguous output loop innermost --*- C++ -*-===//
//
// Part of qat-mlir. The --qat-interchange-loops pass.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_INTERCHANGELOOPS
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

struct InterchangeLoopsPass
    : qat::impl::InterchangeLoopsBase<InterchangeLoopsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> candidates;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (op.getNumReductionLoops() > 0 && op.getNumDpsInits() == 1 &&
          !isa<linalg::FillOp>(op))
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      AffineMap outputMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
      if (outputMap.getNumResults() == 0)
        continue;
      auto last = dyn_cast<AffineDimExpr>(outputMap.getResults().back());
      unsigned numLoops = op.getNumLoops();
      if (!last || last.getPosition() == numLoops - 1 ||
          op.getIteratorTypesArray()[last.getPosition()] !=
              utils::IteratorType::parallel)
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
        if (loop != last.getPosition())
          order.push_back(loop);
      order.push_back(last.getPosition());
      (void)linalg::interchangeGenericOp(rewriter, generic, order);
    }
  }
};

} // namespace
