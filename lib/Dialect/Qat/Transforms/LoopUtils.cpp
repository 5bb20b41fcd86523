//===- LoopUtils.cpp - how linalg indexing maps move with a loop ----------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "LoopUtils.h"

#include "mlir/IR/AffineExprVisitor.h"

using namespace mlir;

std::optional<int64_t> mlir::qat::constantStep(AffineExpr expr, unsigned dim,
                                               unsigned numDims) {
  AffineExpr loop = getAffineDimExpr(dim, expr.getContext());
  // expr(dim + 1) - expr(dim) folds to a constant only where dim enters
  // linearly.
  AffineExpr step =
      simplifyAffineExpr(expr.replace(loop, loop + 1) - expr, numDims, 0);
  if (auto constant = dyn_cast<AffineConstantExpr>(step))
    return constant.getValue();
  return std::nullopt;
}
