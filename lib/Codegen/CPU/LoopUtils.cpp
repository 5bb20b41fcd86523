//===- LoopUtils.cpp - how linalg indexing maps move with a loop ----------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "LoopUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

bool mlir::qat::isLaneWise(Operation &op) {
  if (!isa<arith::ArithDialect, math::MathDialect>(op.getDialect()) ||
      !OpTrait::hasElementwiseMappableTraits(&op) || op.getNumRegions() != 0)
    return false;
  if (isa<arith::DivSIOp, arith::DivUIOp, arith::RemSIOp, arith::RemUIOp,
          arith::CeilDivSIOp, arith::CeilDivUIOp, arith::FloorDivSIOp>(op))
    return false;
  return llvm::all_of(op.getResultTypes(),
                      [](Type type) { return type.isIntOrIndexOrFloat(); });
}

SmallVector<ReassociationIndices>
mlir::qat::mergeDims(unsigned rank, unsigned first, unsigned count) {
  SmallVector<ReassociationIndices> groups;
  for (unsigned dim = 0; dim < rank; ++dim) {
    if (dim > first && dim < first + count)
      groups.back().push_back(dim);
    else
      groups.push_back({dim});
  }
  return groups;
}
