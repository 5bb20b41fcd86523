//===- LowerPackUnpack.cpp - linalg.pack/unpack as reshapes ---------------===//
//
// Part of qat-mlir. The --qat-lower-pack-unpack pass: upstream's lowerPack
// and lowerUnPack applied to every op (upstream offers them as transform
// ops only).
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERPACKUNPACK
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

struct LowerPackUnpackPass
    : qat::impl::LowerPackUnpackBase<LowerPackUnpackPass> {
  void runOnOperation() override {
    SmallVector<linalg::PackOp> packs;
    SmallVector<linalg::UnPackOp> unpacks;
    getOperation()->walk([&](Operation *op) {
      if (auto pack = dyn_cast<linalg::PackOp>(op))
        packs.push_back(pack);
      else if (auto unpack = dyn_cast<linalg::UnPackOp>(op))
        unpacks.push_back(unpack);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::PackOp pack : packs) {
      rewriter.setInsertionPoint(pack);
      if (failed(linalg::lowerPack(rewriter, pack))) {
        pack.emitError("--qat-lower-pack-unpack: cannot lower this pack");
        return signalPassFailure();
      }
    }
    for (linalg::UnPackOp unpack : unpacks) {
      rewriter.setInsertionPoint(unpack);
      if (failed(linalg::lowerUnPack(rewriter, unpack))) {
        unpack.emitError("--qat-lower-pack-unpack: cannot lower this unpack");
        return signalPassFailure();
      }
    }
    // lowerUnPack copies its result into the unpack's destination, which is
    // a fresh tensor.empty here: that copy is the value it copies, and kept
    // it became a strided copy loop over the whole output (a fifth of the
    // int8 small CNN's time).
    SmallVector<linalg::CopyOp> copies;
    getOperation()->walk([&](linalg::CopyOp copy) {
      if (copy.hasPureTensorSemantics() &&
          copy.getOutputs()[0].getDefiningOp<tensor::EmptyOp>())
        copies.push_back(copy);
    });
    for (linalg::CopyOp copy : copies)
      rewriter.replaceOp(copy, copy.getInputs()[0]);
  }
};

} // namespace
