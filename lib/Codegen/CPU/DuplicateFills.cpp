//===- DuplicateFills.cpp - one fill per destination ----------------------===//
//
// Part of qat-mlir. The --qat-duplicate-fills pass.
//
// CSE merges equal fills (every zero-initialized accumulator of a shape);
// bufferization then gives the merged fill one buffer, and each op that
// writes into it in place gets a copy of the filled buffer first: a
// memcpy on the step's serial path for every reuse (4.8 MB per step of
// the small CNN). Filling again is cheaper than copying, and runs on
// vectors and threads like the first fill.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::qat {
#define GEN_PASS_DEF_DUPLICATEFILLSPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

struct DuplicateFillsPass
    : qat::impl::DuplicateFillsPassBase<DuplicateFillsPass> {
  void runOnOperation() override {
    // In program order: the first destination keeps the fill.
    DenseSet<Value> filled;
    getOperation()->walk([&](DestinationStyleOpInterface op) {
      for (OpOperand &init : op.getDpsInitsMutable()) {
        auto fill = init.get().getDefiningOp<linalg::FillOp>();
        if (!fill || !fill.hasPureTensorSemantics() ||
            filled.insert(init.get()).second)
          continue;
        OpBuilder b(op);
        init.set(b.clone(*fill)->getResult(0));
      }
    });
  }
};

} // namespace
