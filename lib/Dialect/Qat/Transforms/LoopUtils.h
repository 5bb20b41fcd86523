//===- LoopUtils.h - how linalg indexing maps move with a loop --*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Dialect/Qat/Transforms: what the passes
// that pick an op's innermost loop (--qat-interchange-loops,
// --qat-vectorize-elementwise) ask of an indexing expression.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_DIALECT_QAT_TRANSFORMS_LOOPUTILS_H
#define QAT_LIB_DIALECT_QAT_TRANSFORMS_LOOPUTILS_H

#include "mlir/IR/AffineExpr.h"

namespace mlir::qat {

/// Whether `expr` (of `numDims` loops) grows by exactly 1 with each step of
/// loop `dim`, whatever the other loops are: `d3`, `d4 + d7`, `d2 * 2 + d4`
/// for d4; not `d4 * 2` or `d4 floordiv 2`.
bool isUnitStep(AffineExpr expr, unsigned dim, unsigned numDims);

} // namespace mlir::qat

#endif // QAT_LIB_DIALECT_QAT_TRANSFORMS_LOOPUTILS_H
