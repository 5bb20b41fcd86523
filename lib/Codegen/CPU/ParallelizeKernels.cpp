//===- ParallelizeKernels.cpp - linalg ops over threads ---------*- C++ -*-===//
//
// Part of qat-mlir. The --qat-parallelize-kernels pass.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_PARALLELIZEKERNELSPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// `pad` as a fill of the padded tensor and a copy of the source into its
/// interior: two linalg ops that can be split over threads.
void splitPad(RewriterBase &rewriter, tensor::PadOp pad) {
  Location loc = pad.getLoc();
  RankedTensorType type = pad.getResultType();
  rewriter.setInsertionPoint(pad);
  Value empty = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                        type.getElementType());
  // A constant yielded from inside the pad's region is copied out of it.
  Value padding = pad.getConstantPaddingValue();
  if (pad.getRegion().isAncestor(padding.getParentRegion()))
    padding = rewriter.clone(*padding.getDefiningOp())->getResult(0);
  Value filled =
      linalg::FillOp::create(rewriter, loc, padding, empty).getResult(0);
  SmallVector<OpFoldResult> sizes =
      tensor::getMixedSizes(rewriter, loc, pad.getSource());
  SmallVector<OpFoldResult> strides(type.getRank(), rewriter.getIndexAttr(1));
  SmallVector<OpFoldResult> offsets = pad.getMixedLowPad();
  Value interior = tensor::ExtractSliceOp::create(rewriter, loc, filled,
                                                  offsets, sizes, strides);
  Value copied =
      linalg::CopyOp::create(rewriter, loc, pad.getSource(), interior)
          .getResult(0);
  rewriter.replaceOpWithNewOp<tensor::InsertSliceOp>(pad, copied, filled,
                                                     offsets, sizes, strides);
}

struct ParallelizeKernelsPass
    : qat::impl::ParallelizeKernelsPassBase<ParallelizeKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (threads < 1 || minIterations < 1) {
      getOperation()->emitError("--qat-parallelize-kernels: threads and "
                                "min-iterations must be at least 1");
      return signalPassFailure();
    }
    if (threads < 2)
      return;
    IRRewriter rewriter(&getContext());
    SmallVector<tensor::PadOp> pads;
    getOperation()->walk([&](tensor::PadOp pad) {
      if (pad.getResultType().hasStaticShape() &&
          pad.getResultType().getNumElements() >= minIterations &&
          pad.getConstantPaddingValue() && !pad.getNofold() &&
          !pad->getParentOfType<scf::ForallOp>())
        pads.push_back(pad);
    });
    for (tensor::PadOp pad : pads)
      splitPad(rewriter, pad);

    SmallVector<linalg::LinalgOp> candidates;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (op.hasPureTensorSemantics() && !op->getParentOfType<scf::ForallOp>())
        candidates.push_back(op);
    });
    for (linalg::LinalgOp op : candidates) {
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      if (llvm::any_of(ranges, ShapedType::isDynamic))
        continue;
      int64_t points = 1;
      for (int64_t range : ranges)
        points *= range;
      if (points < minIterations)
        continue;
      // The outermost parallel loop with at least one iteration per thread.
      std::optional<unsigned> loop;
      for (auto [index, type] : llvm::enumerate(op.getIteratorTypesArray()))
        if (type == utils::IteratorType::parallel &&
            ranges[index] >= static_cast<int64_t>(threads)) {
          loop = index;
          break;
        }
      if (!loop)
        continue;
      SmallVector<OpFoldResult> numThreads(*loop + 1, rewriter.getIndexAttr(0));
      numThreads[*loop] = rewriter.getIndexAttr(threads);
      scf::SCFTilingOptions options;
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      options.setNumThreads(numThreads);
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled))
        continue; // stays sequential
      rewriter.replaceOp(op, tiled->replacements);
    }
  }
};

} // namespace
