//===- Passes.h - qat training and deployment passes ------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_TRANSFORMS_PASSES_H
#define QAT_DIALECT_QAT_TRANSFORMS_PASSES_H

#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Pass/Pass.h"

namespace mlir::qat {

#define GEN_PASS_DECL
#define GEN_PASS_REGISTRATION
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"

/// The f32 lanes of --qat-lower-mmt4d's FMA microkernel: the RHS tile width
/// that --qat-conv-to-mmt4d packs for (RHS tiles 16 x 1, accumulators
/// M0 x 16).
inline constexpr int64_t kFloatMmt4dLanes = 16;

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_TRANSFORMS_PASSES_H
