//===- LoopUtils.cpp - how linalg indexing maps move with a loop ----------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "LoopUtils.h"

#include "mlir/IR/AffineExprVisitor.h"

using namespace mlir;

bool mlir::qat::isUnitStep(AffineExpr expr, unsigned dim, unsigned numDims) {
  AffineExpr loop = getAffineDimExpr(dim, expr.getContext());
  // expr(dim + 1) - expr(dim) folds to the constant 1 only where dim enters
  // linearly with coefficient 1.
  AffineExpr step =
      simplifyAffineExpr(expr.replace(loop, loop + 1) - expr, numDims, 0);
  auto constant = dyn_cast<AffineConstantExpr>(step);
  return constant && constant.getValue() == 1;
}
