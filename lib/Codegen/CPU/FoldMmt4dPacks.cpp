//===- FoldMmt4dPacks.cpp - mmt4d reading its operands in place -----------===//
//
// Part of qat-mlir. The --qat-fold-mmt4d-packs pass.
//
// A pack that needs no padding is a reshape and a transpose of its source
// (upstream's lowerPack says which), and an unpack likewise. For the f32
// microkernel, which loads its LHS one element at a time and its RHS and
// accumulator 16 contiguous lanes at a time, that transpose need not be a
// copy: the product can index the reshaped source directly. In a training
// step these copies moved the im2col matrix three more times (a fifth of a
// step of the small CNN). Written here because upstream has no tensor-level
// view that bufferizes to a transposed memref; the product becomes a
// linalg.generic with mmt4d's loops, which --qat-lower-mmt4d turns back
// into linalg.mmt4d on transposed views.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_FOLDMMT4DPACKSPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

/// Whether a pack or unpack moves data without padding: every tiled
/// dimension of the unpacked tensor (`unpacked`) is a multiple of its tile.
template <typename PackOrUnPack>
bool tilesWithoutPadding(PackOrUnPack op, ShapedType unpacked) {
  for (auto [dim, tile] :
       llvm::zip_equal(op.getInnerDimsPos(), op.getStaticInnerTiles()))
    if (ShapedType::isDynamic(unpacked.getDimSize(dim)) ||
        ShapedType::isDynamic(tile) || unpacked.getDimSize(dim) % tile != 0)
      return false;
  return true;
}

/// `map` (the packed operand's map) for the unpacked operand whose
/// dimension `permutation[i]` is the packed operand's dimension `i`.
AffineMap mapThroughTranspose(AffineMap map, ArrayRef<int64_t> permutation) {
  SmallVector<AffineExpr> results(map.getNumResults());
  for (auto [packedDim, sourceDim] : llvm::enumerate(permutation))
    results[sourceDim] = map.getResult(packedDim);
  return AffineMap::get(map.getNumDims(), 0, results, map.getContext());
}

/// Whether the operand with `map` and `type` holds the lanes (`lanes`,
/// mmt4d's N0 loop) in its last dimension longer than 1, as the
/// microkernel's vector loads and stores need.
bool lanesAreContiguous(AffineMap map, ShapedType type, unsigned lanes) {
  std::optional<unsigned> position =
      map.getResultPosition(getAffineDimExpr(lanes, map.getContext()));
  if (!position)
    return false;
  for (int64_t dim = *position + 1; dim < type.getRank(); ++dim)
    if (type.getDimSize(dim) != 1)
      return false;
  return true;
}

struct FoldMmt4dPacksPass
    : qat::impl::FoldMmt4dPacksPassBase<FoldMmt4dPacksPass> {
  void runOnOperation() override {
    SmallVector<linalg::Mmt4DOp> products;
    getOperation()->walk([&](linalg::Mmt4DOp op) {
      if (op.hasPureTensorSemantics() &&
          cast<ShapedType>(op.getDpsInits()[0].getType())
              .getElementType()
              .isF32())
        products.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::Mmt4DOp op : products)
      if (failed(fold(rewriter, op)))
        return signalPassFailure();
  }

  /// mmt4d's loops: (m1, n1, k1, m0, n0, k0); n0 is the RHS's lanes.
  static constexpr unsigned kLanesLoop = 4;

  static LogicalResult fold(IRRewriter &rewriter, linalg::Mmt4DOp op) {
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    SmallVector<Value> inputs(op.getDpsInputs());
    bool changed = false;
    for (auto [index, input] : llvm::enumerate(inputs)) {
      auto pack = input.getDefiningOp<linalg::PackOp>();
      if (!pack || !pack->hasOneUse() ||
          !tilesWithoutPadding(pack, pack.getSourceType()))
        continue;
      rewriter.setInsertionPoint(pack);
      FailureOr<linalg::LowerPackResult> lowered =
          linalg::lowerPack(rewriter, pack, /*lowerPadLikeWithInsertSlice=*/
                            false);
      if (failed(lowered) || !lowered->transposeOp)
        return pack.emitError("--qat-fold-mmt4d-packs: cannot lower this pack");
      linalg::TransposeOp transpose = lowered->transposeOp;
      inputs[index] = transpose.getResult()[0];
      Value source = transpose.getInput();
      AffineMap map =
          mapThroughTranspose(maps[index], transpose.getPermutation());
      // The LHS is read one element at a time; the RHS's lanes must stay
      // contiguous, or it keeps its pack (a copy) as lowered.
      if (index == 1 &&
          !lanesAreContiguous(map, cast<ShapedType>(source.getType()),
                              kLanesLoop))
        continue;
      inputs[index] = source;
      maps[index] = map;
      changed = true;
    }

    // The accumulator: a fill (the products' zero) unpacked into a fresh
    // tensor becomes the same fill of the unpacked layout, which the
    // product then updates in place.
    Value init = op.getDpsInits()[0];
    Value result = op.getResult(0);
    linalg::TransposeOp resultTranspose;
    auto fill = init.getDefiningOp<linalg::FillOp>();
    auto unpack = result.hasOneUse()
                      ? dyn_cast<linalg::UnPackOp>(*result.getUsers().begin())
                      : linalg::UnPackOp();
    if (fill && fill->hasOneUse() && unpack &&
        tilesWithoutPadding(unpack, unpack.getDestType())) {
      rewriter.setInsertionPoint(unpack);
      FailureOr<linalg::LowerUnPackOpResult> lowered = linalg::lowerUnPack(
          rewriter, unpack, /*lowerUnpadLikeWithExtractSlice=*/false);
      if (failed(lowered) || !lowered->transposeOp)
        return unpack.emitError(
            "--qat-fold-mmt4d-packs: cannot lower this unpack");
      resultTranspose = lowered->transposeOp;
      ArrayRef<int64_t> permutation = resultTranspose.getPermutation();
      // The transpose's result dimension i is the accumulator's
      // permutation[i].
      SmallVector<AffineExpr> results;
      for (int64_t dim : permutation)
        results.push_back(maps[2].getResult(dim));
      maps[2] = AffineMap::get(maps[2].getNumDims(), 0, results,
                               rewriter.getContext());
      rewriter.setInsertionPoint(op);
      auto unpackedType = cast<RankedTensorType>(resultTranspose.getType(0));
      Value empty = tensor::EmptyOp::create(rewriter, op.getLoc(),
                                            unpackedType.getShape(),
                                            unpackedType.getElementType());
      init = linalg::FillOp::create(rewriter, fill.getLoc(),
                                    fill.getDpsInputs(), ValueRange{empty})
                 .getResult(0);
      changed = true;
    }
    if (!changed)
      return success();

    rewriter.setInsertionPoint(op);
    auto product = linalg::GenericOp::create(
        rewriter, op.getLoc(), TypeRange{init.getType()}, inputs,
        ValueRange{init}, maps, op.getIteratorTypesArray());
    rewriter.cloneRegionBefore(op->getRegion(0), product.getRegion(),
                               product.getRegion().begin());
    if (resultTranspose) {
      rewriter.replaceOp(resultTranspose, product.getResult(0));
      rewriter.eraseOp(op);
      rewriter.eraseOp(fill);
    } else {
      rewriter.replaceOp(op, product.getResult(0));
    }
    return success();
  }
};

} // namespace
