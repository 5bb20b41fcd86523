//===- Int8ConvToMmt4d.cpp - int8 convolutions as data-tiled GEMMs --------===//
//
// Part of qat-mlir. The --qat-int8-conv-to-mmt4d pass: im2col, upstream's
// linalg.pack/mmt4d/unpack, and the weights packed once at compile time.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"
#include "qat/Codegen/CPU/Targets.h"
#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::qat {
#define GEN_PASS_DEF_INT8CONVTOMMT4DPASS
#include "qat/Codegen/CPU/Passes.h.inc"
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
/// reshapes. The one place code generation reads qat ops: the integer
/// forms that --qat-fold-quant leaves state the ranges the proof needs.
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
    : qat::impl::Int8ConvToMmt4dPassBase<Int8ConvToMmt4dPass> {
  using Base::Base;

  /// The microkernel's tiles: `isa`'s, or 8 x 4 LHS tiles and `lanes`-wide
  /// RHS tiles of bytes (the dot-product instructions') without one.
  int64_t rows = 8, depth = 4, tileLanes = 0;
  unsigned lhsBits = 8;
  /// The isa's faster kernel for products proven not to saturate.
  const Int8Microkernel *pairsKernel = nullptr;

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
      if (provenPairs)
        pairsKernel = provenPairsKernel(*kernel);
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

  /// The first weight pair of the packed layout (K0 = 4: pairs (0, 1) and
  /// (2, 3) of each group of 4 along K, zero-padded) that could saturate
  /// vpmaddubsw for unsigned LHS values in [uMin, uMax], as (f, k); none if
  /// every pair is proven.
  static std::optional<std::pair<int64_t, int64_t>>
  saturatingPair(ArrayRef<int64_t> flat, int64_t f, int64_t k, int64_t uMin,
                 int64_t uMax) {
    for (int64_t row = 0; row < f; ++row)
      for (int64_t col = 0; col < k; col += 2) {
        int64_t w0 = flat[row * k + col];
        int64_t w1 = col + 1 < k ? flat[row * k + col + 1] : 0;
        if (!pairCannotSaturate(w0, w1, uMin, uMax))
          return std::pair{row, col};
      }
    return std::nullopt;
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
    // Bytes hold codes - 128 for an unsigned grid, the codes for a signed
    // one.
    std::optional<int64_t> byteOffset;
    if (range->first >= 0 && range->second <= 255)
      byteOffset = 128;
    else if (range->first >= -128 && range->second <= 127)
      byteOffset = 0;
    // 16-bit LHS values hold the codes themselves.
    if (lhsBits == 8 && !byteOffset)
      return;
    if (lhsBits == 16 &&
        (range->first < INT16_MIN || range->second > INT16_MAX))
      return;
    int64_t offset = lhsBits == 16 ? 0 : *byteOffset;
    // Filter: a constant of 8-bit values (stored as i8 and widened).
    Value filter = conv.getInputs()[1];
    if (auto extend = filter.getDefiningOp<arith::ExtSIOp>())
      filter = extend.getIn();
    DenseIntElementsAttr weights;
    if (!matchPattern(filter, m_Constant(&weights)) ||
        !llvm::all_of(weights.getValues<APInt>(),
                      [](const APInt &w) { return w.isSignedIntN(8); }))
      return;
    SmallVector<int64_t> flat;
    for (const APInt &w : weights.getValues<APInt>())
      flat.push_back(w.getSExtValue());

    // The faster kernel where every weight pair is proven: its unsigned
    // operand is the byte + 128, codes - offset + 128.
    int64_t rows = this->rows, depth = this->depth, tileLanes = this->tileLanes;
    unsigned lhsBits = this->lhsBits;
    bool proven = false;
    if (pairsKernel && byteOffset) {
      int64_t uMin = range->first - *byteOffset + 128,
              uMax = range->second - *byteOffset + 128;
      ArrayRef<int64_t> fshape = weights.getType().getShape();
      int64_t f = fshape[0], k = fshape[1] * fshape[2] * fshape[3];
      std::optional<std::pair<int64_t, int64_t>> unproven =
          saturatingPair(flat, f, k, uMin, uMax);
      proven = !unproven;
      if (proven) {
        rows = pairsKernel->rows;
        depth = pairsKernel->depth;
        tileLanes = pairsKernel->lanes;
        lhsBits = pairsKernel->lhsBits;
        offset = *byteOffset;
      }
      if (report && proven) {
        conv.emitRemark() << "int8 convolution on " << pairsKernel->name
                          << ": no weight pair can saturate for codes in ["
                          << range->first << ", " << range->second << "]";
      } else if (report) {
        auto [row, col] = *unproven;
        int64_t w1 = col + 1 < k ? flat[row * k + col + 1] : 0;
        conv.emitRemark() << "int8 convolution on the exact " << isa
                          << " kernel: the weights (" << flat[row * k + col]
                          << ", " << w1 << ") of output channel " << row
                          << " at k = " << col
                          << " could saturate vpmaddubsw for codes in ["
                          << range->first << ", " << range->second << "]";
      }
    }

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
    auto gemm = linalg::Mmt4DOp::create(b, loc, TypeRange{accType},
                                        ValueRange{packed, rhsConst},
                                        ValueRange{accInit});
    if (proven)
      gemm->setAttr(kPairsProvenAttr, b.getUnitAttr());
    Value acc = gemm.getResult(0);
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
