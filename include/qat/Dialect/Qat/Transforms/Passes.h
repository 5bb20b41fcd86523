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

/// The i32 lanes of an int8 dot-product instruction set of
/// --qat-lower-mmt4d (avx512vnni: 16, avxvnni: 8, dotprod: 4): the RHS tile
/// width that --qat-int8-conv-to-mmt4d must pack for. Null for an unknown
/// name.
std::optional<int64_t> int8IsaLanes(StringRef isa);

/// The f32 lanes of --qat-lower-mmt4d's FMA microkernel: the RHS tile width
/// that --qat-conv-to-mmt4d packs for (RHS tiles 16 x 1, accumulators
/// M0 x 16).
inline constexpr int64_t kFloatMmt4dLanes = 16;

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_TRANSFORMS_PASSES_H
