//===- LowerPackUnpack.cpp - linalg.pack/unpack as reshapes ---------------===//
//
// Part of qat-mlir. The --qat-lower-pack-unpack pass: upstream's lowerPack
// and lowerUnPack applied to every op (upstream offers them as transform
// ops only).
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERPACKUNPACKPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

/// Replaces a transpose that moves only unit dimensions (a pack whose
/// outer or inner tile count is 1, like the 9 im2col columns of a 3x3
/// single-channel convolution padded to one panel of 16) by the reshape it
/// is: the elements keep their order in memory, so no copy is needed.
void replaceUnitDimTranspose(RewriterBase &rewriter,
                             linalg::TransposeOp transpose) {
  auto input = cast<RankedTensorType>(transpose.getInput().getType());
  auto result = cast<RankedTensorType>(transpose.getResult()[0].getType());
  if (!input.hasStaticShape())
    return;
  SmallVector<int64_t> order;
  for (int64_t dim : transpose.getPermutation())
    if (input.getDimSize(dim) != 1)
      order.push_back(dim);
  if (!llvm::is_sorted(order))
    return;
  SmallVector<ReassociationIndices> all(1);
  for (int64_t dim = 0; dim < input.getRank(); ++dim)
    all[0].push_back(dim);
  rewriter.setInsertionPoint(transpose);
  Location loc = transpose.getLoc();
  Value flat =
      tensor::CollapseShapeOp::create(rewriter, loc, transpose.getInput(), all);
  rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(transpose, result, flat,
                                                     all);
}

struct LowerPackUnpackPass
    : qat::impl::LowerPackUnpackPassBase<LowerPackUnpackPass> {
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
      FailureOr<linalg::LowerPackResult> lowered =
          linalg::lowerPack(rewriter, pack);
      if (failed(lowered)) {
        pack.emitError("--qat-lower-pack-unpack: cannot lower this pack");
        return signalPassFailure();
      }
      if (lowered->transposeOp)
        replaceUnitDimTranspose(rewriter, lowered->transposeOp);
    }
    for (linalg::UnPackOp unpack : unpacks) {
      rewriter.setInsertionPoint(unpack);
      FailureOr<linalg::LowerUnPackOpResult> lowered =
          linalg::lowerUnPack(rewriter, unpack);
      if (failed(lowered)) {
        unpack.emitError("--qat-lower-pack-unpack: cannot lower this unpack");
        return signalPassFailure();
      }
      if (lowered->transposeOp)
        replaceUnitDimTranspose(rewriter, lowered->transposeOp);
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
