//===- ConvToMmt4d.cpp - f32 convolutions and gradients as GEMMs ----------===//
//
// Part of qat-mlir. The --qat-conv-to-mmt4d pass. A training step holds
// each 2-D convolution three times: the forward op and the two contractions
// that --qat-generate-backward derives from its indexing maps (the weight
// gradient, and the input gradient in scatter form). The three share one
// loop space and three maps, so one matcher finds them all, and the operand
// that is accumulated into says which product to compute.
//
//===----------------------------------------------------------------------===//

#include "ConvLoops.h"

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::qat {
#define GEN_PASS_DEF_CONVTOMMT4DPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// --qat-lower-mmt4d's f32 tiles: 8 LHS rows (8 x 2 panels of
/// accumulators fill 16 of AVX-512's 32 registers), its RHS lanes, depth 1.
constexpr int64_t kRows = 8, kLanes = kFloatMmt4dLanes;

struct ConvToMmt4dPass : qat::impl::ConvToMmt4dPassBase<ConvToMmt4dPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<std::pair<linalg::LinalgOp, ConvShape>> convs;
    getOperation()->walk([&](linalg::LinalgOp op) {
      std::optional<ConvShape> shape =
          op.hasPureTensorSemantics() ? matchConv(op) : std::nullopt;
      // Sizes of tiles and packs: static ones.
      if (shape && !llvm::all_of(op->getOperandTypes(), [](Type type) {
            return cast<ShapedType>(type).hasStaticShape();
          }))
        return;
      if (shape && !(leaveDirect && isDirectConv(*shape, kLanes)))
        convs.push_back({op, *shape});
    });
    for (auto [op, shape] : convs) {
      OpBuilder b(op);
      Value result = rewrite(b, op, shape);
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    }
  }

  static Value rewrite(OpBuilder &b, linalg::LinalgOp op, const ConvShape &s) {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    Value image = op->getOperand(s.image), filter = op->getOperand(s.filter),
          output = op->getOperand(s.output);
    AffineExpr n, oh, ow, c, kh, kw;
    bindDims(ctx, n, oh, ow, c, kh, kw);
    // Where image[n, c, oh*s + kh*d, ow*s + kw*d] is, over the im2col loops
    // (n, oh, ow, c, kh, kw).
    AffineMap window = pixelMap(s, n, c, oh, ow, kh, kw);
    auto permutation = [&](ArrayRef<unsigned> dims) {
      return AffineMap::getPermutationMap(dims, ctx);
    };

    if (s.output == 2) {
      // output[n, f, oh, ow] += im2col(image) . filter^T
      Value cols = gather(b, loc, image, window, s);
      Value weights = collapse(b, loc, filter, 1);
      Value product = gemm(b, loc, {cols}, {weights}); // (n, oh, ow) x f
      Value rows = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({s.n, s.oh, s.ow, s.f}, f32), product,
          SmallVector<ReassociationIndices>{{0, 1, 2}, {3}});
      return accumulate(b, loc, rows, permutation({0, 2, 3, 1}), output);
    }
    if (s.filter == 2) {
      // filter[f, (c, kh, kw)] += g^T . im2col(image)
      Value g = transpose(b, loc, output, {1, 0, 2, 3});
      Value lhs = collapse(b, loc, g, 1);
      // The forward's im2col (the same op, so CSE shares it), K-major here.
      Value cols = gather(b, loc, image, window, s);
      Value product = gemm(b, loc, {lhs}, {cols, true}); // f x (c, kh, kw)
      Value grad = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({s.f, s.c, s.kh, s.kw}, f32), product,
          SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
      return accumulate(b, loc, grad, permutation({0, 1, 2, 3}), filter);
    }
    // image[n, c, oh*s + kh*d, ow*s + kw*d] += (filter^T . g)[...]: the
    // product in a transposed im2col layout, (c, kh, kw) x (n, oh, ow),
    // then summed back onto the image (col2im) along rows of ow, which are
    // contiguous on both sides.
    Value g = transpose(b, loc, output, {1, 0, 2, 3}); // as the weight grad's
    Value rhs = collapse(b, loc, g, 1);    // f x (n, oh, ow): K-major
    Value w = collapse(b, loc, filter, 1); // f x (c, kh, kw): K-major
    Value product = gemm(b, loc, {w, true}, {rhs, true});
    Value cols = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({s.c, s.kh, s.kw, s.n, s.oh, s.ow}, f32),
        product, SmallVector<ReassociationIndices>{{0, 1, 2}, {3, 4, 5}});
    // Loops (n, c, kh, kw, oh, ow): n and c are parallel; the others reduce
    // onto overlapping pixels, each pixel's terms in (kh, kw) order.
    bindDims(ctx, n, c, kh, kw, oh, ow);
    AffineMap pixels = pixelMap(s, n, c, oh, ow, kh, kw);
    using utils::IteratorType;
    SmallVector<IteratorType> iterators(6, IteratorType::reduction);
    iterators[0] = iterators[1] = IteratorType::parallel;
    return accumulate(b, loc, cols, permutation({1, 2, 3, 0, 4, 5}), image,
                      pixels, iterators);
  }

  /// image[n, c, oh*s + kh*d, ow*s + kw*d] over 6 loops bound to the
  /// expressions.
  static AffineMap pixelMap(const ConvShape &s, AffineExpr n, AffineExpr c,
                            AffineExpr oh, AffineExpr ow, AffineExpr kh,
                            AffineExpr kw) {
    return AffineMap::get(6, 0,
                          {n, c, oh * s.rows.stride + kh * s.rows.dilation,
                           ow * s.cols.stride + kw * s.cols.dilation},
                          n.getContext());
  }

  /// im2col: the image's windows as an (N*OH*OW) x (C*KH*KW) matrix.
  static Value gather(OpBuilder &b, Location loc, Value image, AffineMap window,
                      const ConvShape &s) {
    Type f32 = b.getF32Type();
    Value init = tensor::EmptyOp::create(
        b, loc, {s.n, s.oh, s.ow, s.c, s.kh, s.kw}, f32);
    Value cols =
        linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, ValueRange{image},
            ValueRange{init},
            SmallVector<AffineMap>{window, b.getMultiDimIdentityMap(6)},
            SmallVector<utils::IteratorType>(6, utils::IteratorType::parallel),
            [](OpBuilder &b, Location loc, ValueRange args) {
              linalg::YieldOp::create(b, loc, args[0]);
            })
            .getResult(0);
    return tensor::CollapseShapeOp::create(
        b, loc,
        RankedTensorType::get({s.n * s.oh * s.ow, s.c * s.kh * s.kw}, f32),
        cols, SmallVector<ReassociationIndices>{{0, 1, 2}, {3, 4, 5}});
  }

  /// `value` (rank 4) as a matrix: `leading` dimensions make its rows.
  static Value collapse(OpBuilder &b, Location loc, Value value,
                        unsigned leading) {
    auto type = cast<RankedTensorType>(value.getType());
    ArrayRef<int64_t> dims = type.getShape();
    int64_t rows = 1, cols = 1;
    for (auto [index, size] : llvm::enumerate(dims))
      (index < leading ? rows : cols) *= size;
    ReassociationIndices first, second;
    for (unsigned index = 0; index < dims.size(); ++index)
      (index < leading ? first : second).push_back(index);
    return tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({rows, cols}, type.getElementType()),
        value, SmallVector<ReassociationIndices>{first, second});
  }

  static Value transpose(OpBuilder &b, Location loc, Value value,
                         ArrayRef<int64_t> permutation) {
    auto type = cast<RankedTensorType>(value.getType());
    SmallVector<int64_t> shape;
    for (int64_t dim : permutation)
      shape.push_back(type.getDimSize(dim));
    Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
    return linalg::TransposeOp::create(b, loc, value, init, permutation)
        .getResult()[0];
  }

  /// A GEMM operand: a matrix whose rows are the GEMM's M (or N) and whose
  /// columns are its K, or the transpose of one (`kMajor`).
  struct Operand {
    Value matrix;
    bool kMajor = false;
  };

  /// lhs (M x K) . rhs (N x K)^T through linalg.pack, mmt4d and unpack, in
  /// --qat-lower-mmt4d's f32 tiles. Each product sums K in order. A
  /// K-major operand is transposed by its pack, in the same copy.
  static Value gemm(OpBuilder &b, Location loc, Operand lhs, Operand rhs) {
    Type f32 = b.getF32Type();
    auto shapeOf = [](Operand operand) {
      ArrayRef<int64_t> shape =
          cast<RankedTensorType>(operand.matrix.getType()).getShape();
      return operand.kMajor ? std::pair{shape[1], shape[0]}
                            : std::pair{shape[0], shape[1]};
    };
    int64_t m = shapeOf(lhs).first, k = shapeOf(lhs).second,
            n = shapeOf(rhs).first;
    int64_t m1 = llvm::divideCeil(m, kRows), n1 = llvm::divideCeil(n, kLanes);
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    auto pack = [&](Operand operand, int64_t rows) -> Value {
      int64_t tiles = llvm::divideCeil(shapeOf(operand).first, rows);
      Value init = tensor::EmptyOp::create(b, loc, {tiles, k, rows, 1}, f32);
      SmallVector<OpFoldResult> sizes{b.getIndexAttr(rows), b.getIndexAttr(1)};
      if (!operand.kMajor)
        return linalg::PackOp::create(b, loc, operand.matrix, init, {0, 1},
                                      sizes, zero)
            .getResult();
      return linalg::PackOp::create(b, loc, operand.matrix, init, {1, 0}, sizes,
                                    zero, {1, 0})
          .getResult();
    };
    Value packedLhs = pack(lhs, kRows), packedRhs = pack(rhs, kLanes);
    Value accEmpty =
        tensor::EmptyOp::create(b, loc, {m1, n1, kRows, kLanes}, f32);
    Value acc =
        linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{accEmpty})
            .getResult(0);
    acc = linalg::Mmt4DOp::create(b, loc, TypeRange{acc.getType()},
                                  ValueRange{packedLhs, packedRhs},
                                  ValueRange{acc})
              .getResult(0);
    Value unpackInit = tensor::EmptyOp::create(b, loc, {m, n}, f32);
    return linalg::UnPackOp::create(
               b, loc, acc, unpackInit, {0, 1},
               {b.getIndexAttr(kRows), b.getIndexAttr(kLanes)})
        .getResult();
  }

  /// init + value over the loops of `value`'s and `init`'s maps: all
  /// parallel loops by default (init indexed by the loops themselves).
  static Value accumulate(OpBuilder &b, Location loc, Value value,
                          AffineMap valueMap, Value init,
                          AffineMap initMap = {},
                          ArrayRef<utils::IteratorType> iterators = {}) {
    unsigned loops = valueMap.getNumDims();
    if (!initMap)
      initMap = b.getMultiDimIdentityMap(loops);
    SmallVector<utils::IteratorType> types(iterators);
    if (types.empty())
      types.assign(loops, utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ValueRange{value},
               ValueRange{init}, SmallVector<AffineMap>{valueMap, initMap},
               types,
               [](OpBuilder &b, Location loc, ValueRange args) {
                 linalg::YieldOp::create(
                     b, loc,
                     arith::AddFOp::create(b, loc, args[1], args[0])
                         .getResult());
               })
        .getResult(0);
  }
};

} // namespace
