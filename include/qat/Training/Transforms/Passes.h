//===- Passes.h - passes that build a training step -------------*- C++ -*-===//
//
// Part of qat-mlir. How a training step is built from a model's forward:
// the backward graph, the optimizer step, GradBoost's noise and
// StatAssist's floating-point warm-up.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_TRAINING_TRANSFORMS_PASSES_H
#define QAT_TRAINING_TRANSFORMS_PASSES_H

#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Pass/Pass.h"

namespace mlir::qat {

/// The update rule of --qat-optimizer.
enum class OptimizerAlgorithm {
  /// torch.optim.SGD with momentum (and Nesterov).
  sgd,
  /// torch.optim.Adam (without amsgrad).
  adam,
};

#define GEN_PASS_DECL
#define GEN_PASS_REGISTRATION
#include "qat/Training/Transforms/Passes.h.inc"

} // namespace mlir::qat

#endif // QAT_TRAINING_TRANSFORMS_PASSES_H
