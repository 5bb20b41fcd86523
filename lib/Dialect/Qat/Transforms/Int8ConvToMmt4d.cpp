//===- Int8ConvToMmt4d.cpp - int8 convolutions as data-tiled GEMMs --------===//
//
// Part of qat-mlir. The --qat-int8-conv-to-mmt4d pass: im2col, upstream's
// linalg.pack/mmt4d/unpack, and the weights packed once at compile time.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Transforms/Int8Microkernels.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::qat {
#define GEN_PASS_DEF_INT8CONVTOMMT4D
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

std::optional<int64_t> scalarConstant(Value value) {
  DenseIntElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || !attr.isSplat())
    return std::nullopt;
  return attr.getSplatValue<APInt>().getSExtValue();
}

/// The range of the codes `value` carries: a requantize's bounds or a
/// quantize's grid, through padding (with `zeroPoint`), max pooling and
/// reshapes.
std::optional<std::pair<int64_t, int64_t>> codeRange(Value value,
                                                     int64_t zeroPoint) {
  while (Operation *def = value.getDefiningOp()) {
    if (auto requantize = dyn_cast<RequantizeOp>(def)) {
      std::optional<int64_t> lo = scalarConstant(requantize.getMin()),
                             hi = scalarConstant(requantize.getMax());
      if (!lo || !hi)
        return std::nullopt;
      return std::pair{std::min(*lo, zeroPoint), std::max(*hi, zeroPoint)};
    }
    if (auto quantize = dyn_cast<QuantizeOp>(def))
      return std::pair{int64_t(quantize.getQuantMin()),
                       int64_t(quantize.getQuantMax())};
    if (!isa<tensor::PadOp, linalg::PoolingNchwMaxOp, tosa::ReshapeOp,
             tensor::ExpandShapeOp, tensor::CollapseShapeOp>(def))
      return std::nullopt;
    value = def->getOperand(0);
  }
  return std::nullopt;
}

struct Int8ConvToMmt4dPass
    : qat::impl::Int8ConvToMmt4dBase<Int8ConvToMmt4dPass> {
  using Base::Base;

  /// The microkernel's tiles: `isa`'s, or 8 x 4 LHS tiles and `lanes`-wide
  /// RHS tiles of bytes (the dot-product instructions') without one.
  int64_t rows = 8, depth = 4, tileLanes = 0;
  unsigned lhsBits = 8;

  void runOnOperation() override {
    tileLanes = lanes;
    if (!isa.empty()) {
      const Int8Microkernel *kernel = lookupInt8Microkernel(isa);
      if (!kernel) {
        getOperation()->emitError("--qat-int8-conv-to-mmt4d: unknown isa '")
            << isa << "' (" << int8MicrokernelNames() << ")";
        return signalPassFailure();
      }
      rows = kernel->rows;
      depth = kernel->depth;
      tileLanes = kernel->lanes;
      lhsBits = kernel->lhsBits;
    }
    if (tileLanes < 1 || tileLanes > 64) {
      getOperation()->emitError("--qat-int8-conv-to-mmt4d: lanes must be "
                                "between 1 and 64, not ")
          << tileLanes;
      return signalPassFailure();
    }
    SmallVector<linalg::Conv2DNchwFchwOp> convs;
    getOperation()->walk(
        [&](linalg::Conv2DNchwFchwOp conv) { convs.push_back(conv); });
    for (linalg::Conv2DNchwFchwOp conv : convs)
      rewrite(conv);
  }

  void rewrite(linalg::Conv2DNchwFchwOp conv) {
    auto resultType = cast<RankedTensorType>(conv.getResult(0).getType());
    if (!resultType.getElementType().isInteger(32) ||
        !resultType.hasStaticShape())
      return;
    // Input: codes - z with a constant zero-point.
    auto centered = conv.getInputs()[0].getDefiningOp<tosa::SubOp>();
    if (!centered)
      return;
    std::optional<int64_t> zeroPoint = scalarConstant(centered.getInput2());
    Value codes = centered.getInput1();
    if (!zeroPoint)
      return;
    std::optional<std::pair<int64_t, int64_t>> range =
        codeRange(codes, *zeroPoint);
    if (!range)
      return;
    // 16-bit LHS values hold the codes themselves.
    int64_t offset;
    if (lhsBits == 16)
      offset = 0;
    else if (range->first >= 0 && range->second <= 255)
      offset = 128;
    else if (range->first >= -128 && range->second <= 127)
      offset = 0;
    else
      return;
    // Filter: a constant of 8-bit values (stored as i8 and widened).
    Value filter = conv.getInputs()[1];
    if (auto extend = filter.getDefiningOp<arith::ExtSIOp>())
      filter = extend.getIn();
    DenseIntElementsAttr weights;
    if (!matchPattern(filter, m_Constant(&weights)) ||
        !llvm::all_of(weights.getValues<APInt>(),
                      [](const APInt &w) { return w.isSignedIntN(8); }))
      return;

    ArrayRef<int64_t> out = resultType.getShape();
    ArrayRef<int64_t> fshape = weights.getType().getShape();
    int64_t n = out[0], f = out[1], oh = out[2], ow = out[3];
    int64_t c = fshape[1], kh = fshape[2], kw = fshape[3];
    int64_t m = n * oh * ow, k = c * kh * kw;
    int64_t m1 = llvm::divideCeil(m, rows), k1 = llvm::divideCeil(k, depth),
            f1 = llvm::divideCeil(f, tileLanes);
    SmallVector<int64_t> strides(conv.getStrides().getValues<int64_t>());
    SmallVector<int64_t> dilations(conv.getDilations().getValues<int64_t>());

    OpBuilder b(conv);
    Location loc = conv.getLoc();
    MLIRContext *ctx = b.getContext();
    Type i8 = b.getI8Type(), i32 = b.getI32Type();
    Type lhsType = b.getIntegerType(lhsBits);
    using utils::IteratorType;

    // a = i8(codes - offset) (or i16(codes)), gathered into im2col rows.
    AffineExpr d0, d1, d2, d3, d4, d5;
    bindDims(ctx, d0, d1, d2, d3, d4, d5);
    auto colsType = RankedTensorType::get({n, oh, ow, c, kh, kw}, lhsType);
    Value colsInit =
        tensor::EmptyOp::create(b, loc, colsType.getShape(), lhsType);
    AffineMap gather =
        AffineMap::get(6, 0,
                       {d0, d3, d1 * strides[0] + d4 * dilations[0],
                        d2 * strides[1] + d5 * dilations[1]},
                       ctx);
    Value cols =
        linalg::GenericOp::create(
            b, loc, TypeRange{colsType}, ValueRange{codes},
            ValueRange{colsInit},
            SmallVector<AffineMap>{gather, b.getMultiDimIdentityMap(6)},
            SmallVector<IteratorType>(6, IteratorType::parallel),
            [&](OpBuilder &b, Location loc, ValueRange args) {
              Value shifted = args[0];
              if (offset != 0)
                shifted = arith::SubIOp::create(
                    b, loc, shifted,
                    arith::ConstantOp::create(b, loc,
                                              b.getI32IntegerAttr(offset)));
              linalg::YieldOp::create(
                  b, loc,
                  arith::TruncIOp::create(b, loc, lhsType, shifted)
                      .getResult());
            })
            .getResult(0);
    Value lhs = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({m, k}, lhsType), cols,
        SmallVector<ReassociationIndices>{{0, 1, 2}, {3, 4, 5}});

    // pack(A) . W (packed here: rhs[f1][k1][l][k0] = W[f1*L+l][k1*4+k0]).
    Value lhsZero =
        arith::ConstantOp::create(b, loc, b.getIntegerAttr(lhsType, 0));
    Value packInit =
        tensor::EmptyOp::create(b, loc, {m1, k1, rows, depth}, lhsType);
    Value packed = linalg::PackOp::create(
                       b, loc, lhs, packInit, {0, 1},
                       {b.getIndexAttr(rows), b.getIndexAttr(depth)}, lhsZero)
                       .getResult();
    SmallVector<int8_t> rhs(f1 * k1 * tileLanes * depth, 0);
    SmallVector<int64_t> colsum(f, 0);
    SmallVector<int64_t> flat;
    for (const APInt &w : weights.getValues<APInt>())
      flat.push_back(w.getSExtValue());
    for (int64_t row = 0; row < f; ++row)
      for (int64_t col = 0; col < k; ++col) {
        int64_t w = flat[row * k + col];
        colsum[row] += w;
        int64_t index = (((row / tileLanes) * k1 + col / depth) * tileLanes +
                         row % tileLanes) *
                            depth +
                        col % depth;
        rhs[index] = static_cast<int8_t>(w);
      }
    auto rhsType = RankedTensorType::get({f1, k1, tileLanes, depth}, i8);
    Value rhsConst = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(rhsType, ArrayRef<int8_t>(rhs)));
    auto accType = RankedTensorType::get({m1, f1, rows, tileLanes}, i32);
    Value zero32 = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    Value accEmpty = tensor::EmptyOp::create(b, loc, accType.getShape(), i32);
    Value accInit =
        linalg::FillOp::create(b, loc, ValueRange{zero32}, ValueRange{accEmpty})
            .getResult(0);
    Value acc = linalg::Mmt4DOp::create(b, loc, TypeRange{accType},
                                        ValueRange{packed, rhsConst},
                                        ValueRange{accInit})
                    .getResult(0);
    Value unpackInit = tensor::EmptyOp::create(b, loc, {m, f}, i32);
    Value product = linalg::UnPackOp::create(
                        b, loc, acc, unpackInit, {0, 1},
                        {b.getIndexAttr(rows), b.getIndexAttr(tileLanes)})
                        .getResult();

    // + (o - z) * colsum(W): restores the zero-point, per output channel.
    SmallVector<int32_t> correction;
    for (int64_t row = 0; row < f; ++row)
      correction.push_back(
          static_cast<int32_t>((offset - *zeroPoint) * colsum[row]));
    auto correctionType = RankedTensorType::get({1, f}, i32);
    Value correctionConst = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(correctionType, ArrayRef<int32_t>(correction)));
    product = tosa::AddOp::create(b, loc, product.getType(), product,
                                  correctionConst);

    // Back to N x F x OH x OW.
    Value outputRows = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({n, oh, ow, f}, i32), product,
        SmallVector<ReassociationIndices>{{0, 1, 2}, {3}});
    Value transposeInit =
        tensor::EmptyOp::create(b, loc, resultType.getShape(), i32);
    Value result =
        linalg::TransposeOp::create(b, loc, outputRows, transposeInit,
                                    ArrayRef<int64_t>{0, 3, 1, 2})
            .getResult()[0];
    conv.getResult(0).replaceAllUsesWith(result);
    conv.erase();
  }
};

} // namespace
