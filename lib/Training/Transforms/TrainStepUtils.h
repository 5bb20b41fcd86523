//===- TrainStepUtils.h - helpers of the training-step passes ---*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Training/Transforms.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_TRAINING_TRANSFORMS_TRAINSTEPUTILS_H
#define QAT_LIB_TRAINING_TRANSFORMS_TRAINSTEPUTILS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::qat {

/// The training step `name` (made by --qat-optimizer), or null after a
/// diagnostic on `module` saying so.
func::FuncOp lookupTrainStep(ModuleOp module, StringRef name);

/// The call in `step` to the function --qat-generate-backward made (the
/// callee with qat.gradient results), or null after a diagnostic on `step`
/// saying which passes to run first.
func::CallOp findGradientCall(ModuleOp module, func::FuncOp step);

} // namespace mlir::qat

#endif // QAT_LIB_TRAINING_TRANSFORMS_TRAINSTEPUTILS_H
