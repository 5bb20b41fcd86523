//===- Passes.h - CPU code generation passes --------------------*- C++ -*-===//
//
// Part of qat-mlir. How CPU code is made from linalg on tensors: GEMM
// rewrites of convolutions, fusion, packing, parallelization, microkernels,
// outlining and vectorization. Only --qat-int8-conv-to-mmt4d reads qat ops
// (the code ranges of its inputs).
//
//===----------------------------------------------------------------------===//

#ifndef QAT_CODEGEN_CPU_PASSES_H
#define QAT_CODEGEN_CPU_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qat {

#define GEN_PASS_DECL
#define GEN_PASS_REGISTRATION
#include "qat/Codegen/CPU/Passes.h.inc"

/// The f32 lanes of --qat-lower-mmt4d's FMA microkernel: the RHS tile width
/// that --qat-conv-to-mmt4d packs for (RHS tiles 16 x 1, accumulators
/// M0 x 16).
inline constexpr int64_t kFloatMmt4dLanes = 16;

} // namespace mlir::qat

#endif // QAT_CODEGEN_CPU_PASSES_H
