//===- LoopUtils.h - how linalg indexing maps move with a loop --*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Codegen/CPU: what the passes
// that pick an op's innermost loop (--qat-interchange-loops,
// --qat-vectorize-elementwise, --qat-vectorize-transposes) ask of an
// indexing expression and of a body op.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_CODEGEN_CPU_LOOPUTILS_H
#define QAT_LIB_CODEGEN_CPU_LOOPUTILS_H

#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/Operation.h"

#include <optional>

namespace mlir::qat {

/// How much `expr` (of `numDims` loops) grows with each step of loop `dim`,
/// whatever the other loops are, if that is a constant: 1 for `d3`,
/// `d4 + d7` or `d2 * 2 + d4` (for d4), 2 for `d4 * 2 + d7`; nothing for
/// `d4 floordiv 2` or `d4 * d5`.
std::optional<int64_t> constantStep(AffineExpr expr, unsigned dim,
                                    unsigned numDims);

/// Whether `expr` grows by exactly 1 with each step of loop `dim`.
inline bool isUnitStep(AffineExpr expr, unsigned dim, unsigned numDims) {
  return constantStep(expr, dim, numDims) == 1;
}

/// The reassociation of a rank-`rank` shape that merges the `count`
/// dimensions from `first` into one and keeps the others: what
/// memref.collapse_shape takes to fold a row's trailing unit dimensions or
/// merged loops into one dimension.
SmallVector<ReassociationIndices> mergeDims(unsigned rank, unsigned first,
                                            unsigned count);

/// Whether `op` (in a linalg body) works on vectors lane by lane and cannot
/// trap on the don't-care lanes of a masked tail: `arith`/`math` ops with
/// scalar results, other than integer division.
bool isLaneWise(Operation &op);

} // namespace mlir::qat

#endif // QAT_LIB_CODEGEN_CPU_LOOPUTILS_H
