//===- FoldFillReads.cpp - elementwise reads of a fill's constant ---------===//
//
// Part of qat-mlir. The --qat-fold-fill-reads pass.
//
// --qat-fold-mmt4d-packs leaves a product's zero accumulator in the
// unpacked layout: the unpacking generic adds the product to a zero-filled
// tensor (64x16x28x28 floats for the small CNN's conv1). The fill is a
// pass over memory, and the generic reads the zeros back; adding the
// constant in registers gives the same bits.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::qat {
#define GEN_PASS_DEF_FOLDFILLREADSPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

struct FoldFillReadsPass : qat::impl::FoldFillReadsPassBase<FoldFillReadsPass> {
  void runOnOperation() override {
    // A fill (CSE'd) may be the destination of several ops: erased once.
    llvm::SetVector<Operation *> folded;
    getOperation()->walk([&](linalg::GenericOp op) {
      // Each destination element is read once, before it is written, only
      // without reductions and with one iteration per element.
      if (!op.hasPureTensorSemantics() ||
          op.getNumParallelLoops() != op.getNumLoops())
        return;
      for (OpOperand &init : op.getDpsInitsMutable()) {
        auto fill = init.get().getDefiningOp<linalg::FillOp>();
        Attribute value;
        if (!fill || !fill.hasPureTensorSemantics() ||
            !matchPattern(fill.getInputs()[0], m_Constant(&value)) ||
            !op.getMatchingIndexingMap(&init).isPermutation())
          continue;
        BlockArgument element = op.getMatchingBlockArgument(&init);
        if (!element.use_empty()) {
          OpBuilder b = OpBuilder::atBlockBegin(op.getBody());
          Operation *constant = b.clone(*fill.getInputs()[0].getDefiningOp());
          element.replaceAllUsesWith(constant->getResult(0));
        }
        init.set(fill.getOutputs()[0]);
        folded.insert(fill);
      }
    });
    for (Operation *fill : folded)
      if (fill->use_empty())
        fill->erase();
  }
};

} // namespace
