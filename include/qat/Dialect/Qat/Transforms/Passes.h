//===- Passes.h - what QAT means --------------------------------*- C++ -*-===//
//
// Part of qat-mlir. The passes that give a model its quantization-aware
// semantics: fake quantization and observers inserted (--qat-prepare),
// batch norms folded, the deployed integer arithmetic in training
// (--qat-target-exact) and in deployment (--qat-fold-quant), and the batch
// size changed for deployment (--qat-rebatch).
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

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_TRANSFORMS_PASSES_H
