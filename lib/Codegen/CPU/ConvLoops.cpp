//===- ConvLoops.cpp - 2-D convolutions in any of their three roles ------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "ConvLoops.h"

#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Splits `expr` into `coefficient * dim` terms, or fails on anything else
/// (constants, products of dims, floordiv).
bool linearTerms(AffineExpr expr, int64_t coefficient,
                 SmallVectorImpl<std::pair<unsigned, int64_t>> &terms) {
  if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
    terms.push_back({dim.getPosition(), coefficient});
    return true;
  }
  auto binary = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!binary)
    return false;
  if (binary.getKind() == AffineExprKind::Add)
    return linearTerms(binary.getLHS(), coefficient, terms) &&
           linearTerms(binary.getRHS(), coefficient, terms);
  if (binary.getKind() != AffineExprKind::Mul)
    return false;
  auto constant = dyn_cast<AffineConstantExpr>(binary.getRHS());
  return constant &&
         linearTerms(binary.getLHS(), coefficient * constant.getValue(), terms);
}

std::optional<SpatialTerm> spatialTerm(AffineExpr expr, unsigned outDim,
                                       unsigned windowDim) {
  SmallVector<std::pair<unsigned, int64_t>> terms;
  if (!linearTerms(expr, 1, terms) || terms.size() != 2)
    return std::nullopt;
  SpatialTerm term{outDim, windowDim, 0, 0};
  for (auto [dim, coefficient] : terms) {
    if (dim == outDim)
      term.stride = coefficient;
    else if (dim == windowDim)
      term.dilation = coefficient;
  }
  if (term.stride <= 0 || term.dilation <= 0)
    return std::nullopt;
  return term;
}

} // namespace

std::optional<ConvShape> mlir::qat::matchConv(linalg::LinalgOp op) {
  if (op.getNumLoops() != 7 || !builders::isMulAdd(op))
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap map : maps)
    if (map.getNumResults() != 4)
      return std::nullopt;
  auto dimAt = [&](unsigned operand,
                   unsigned result) -> std::optional<unsigned> {
    if (auto dim = dyn_cast<AffineDimExpr>(maps[operand].getResult(result)))
      return dim.getPosition();
    return std::nullopt;
  };
  // The image is the operand indexed by sums in its last two dimensions.
  std::optional<unsigned> image;
  for (unsigned i = 0; i < 3; ++i)
    if (!dimAt(i, 2) && !dimAt(i, 3) && dimAt(i, 0) && dimAt(i, 1))
      image = i;
  if (!image)
    return std::nullopt;
  ConvShape shape;
  shape.image = *image;
  // The filter shares the image's channel loop, the output its batch loop.
  std::optional<unsigned> filter, output;
  for (unsigned i = 0; i < 3; ++i) {
    if (i == *image || !llvm::all_of(llvm::seq(0u, 4u), [&](unsigned r) {
          return dimAt(i, r).has_value();
        }))
      continue;
    if (dimAt(i, 1) == dimAt(*image, 1))
      filter = i;
    else if (dimAt(i, 0) == dimAt(*image, 0))
      output = i;
  }
  if (!filter || !output)
    return std::nullopt;
  shape.filter = *filter;
  shape.output = *output;
  // Loops: n, c (image), f (output 1 = filter 0), oh, ow, kh, kw.
  if (dimAt(*output, 1) != dimAt(*filter, 0))
    return std::nullopt;
  std::optional<SpatialTerm> rows = spatialTerm(
      maps[*image].getResult(2), *dimAt(*output, 2), *dimAt(*filter, 2));
  std::optional<SpatialTerm> cols = spatialTerm(
      maps[*image].getResult(3), *dimAt(*output, 3), *dimAt(*filter, 3));
  if (!rows || !cols)
    return std::nullopt;
  shape.rows = *rows;
  shape.cols = *cols;
  // Seven distinct loops, each used as the layout says.
  llvm::SmallDenseSet<unsigned> loops{
      *dimAt(*image, 0), *dimAt(*image, 1), *dimAt(*output, 1), rows->out,
      cols->out,         rows->window,      cols->window};
  if (loops.size() != 7)
    return std::nullopt;

  auto typeOf = [&](unsigned operand) {
    return dyn_cast<ShapedType>(op->getOperand(operand).getType());
  };
  // Batch and channel sizes may be dynamic (a thread's share of an odd
  // count); the spatial ones must not.
  for (unsigned i = 0; i < 3; ++i)
    if (!typeOf(i) || !typeOf(i).hasRank() || typeOf(i).isDynamicDim(2) ||
        typeOf(i).isDynamicDim(3) || !typeOf(i).getElementType().isF32())
      return std::nullopt;
  ArrayRef<int64_t> in = typeOf(*image).getShape(),
                    w = typeOf(*filter).getShape(),
                    out = typeOf(*output).getShape();
  shape.n = in[0];
  shape.c = in[1];
  shape.ih = in[2];
  shape.iw = in[3];
  shape.f = w[0];
  shape.kh = w[2];
  shape.kw = w[3];
  shape.oh = out[2];
  shape.ow = out[3];
  if (out[0] != shape.n || out[1] != shape.f || w[1] != shape.c ||
      (shape.oh - 1) * rows->stride + (shape.kh - 1) * rows->dilation >=
          shape.ih ||
      (shape.ow - 1) * cols->stride + (shape.kw - 1) * cols->dilation >=
          shape.iw)
    return std::nullopt;
  return shape;
}

bool mlir::qat::isDirectConv(const ConvShape &s, int64_t lanes) {
  int64_t taps = s.kh * s.kw;
  return s.rows.stride == 1 && s.cols.stride == 1 && s.rows.dilation == 1 &&
         s.cols.dilation == 1 && taps >= 2 && taps <= 9 && s.iw <= 2 * lanes &&
         4 * s.ow >= 3 * lanes * llvm::divideCeil(s.ow, lanes);
}
