//===- AccumulatorFills.h - zero fills that microkernels absorb -*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Codegen/CPU: how
// --qat-lower-mmt4d and --qat-lower-direct-conv find the linalg.fill of
// +0.0 before an op that accumulates into a buffer, so that the op's
// microkernel starts its accumulators from zero (fma(a, b, +0.0) is what
// it computed after the fill) and the fill's pass over memory goes.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_CODEGEN_CPU_ACCUMULATORFILLS_H
#define QAT_LIB_CODEGEN_CPU_ACCUMULATORFILLS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::qat {

/// The fill of +0.0 that does nothing but zero `out`, which `op` (on
/// buffers) accumulates into: the memory op right before `op` on the same
/// buffer or, both split over threads (one-dimensional scf.parallel loops
/// with the same bounds), the loop right before `op`'s loop filling the
/// same slice in each iteration. Null if there is none.
linalg::FillOp zeroFillOfAccumulator(Operation *op, Value out);

/// Erases `fill`, and the loop around it when nothing else is left there.
void eraseFill(linalg::FillOp fill);

} // namespace mlir::qat

#endif // QAT_LIB_CODEGEN_CPU_ACCUMULATORFILLS_H
