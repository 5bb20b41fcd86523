//===- TrainStepUtils.h - helpers of the training-step passes ---*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Dialect/Qat/Transforms.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_DIALECT_QAT_TRANSFORMS_TRAINSTEPUTILS_H
#define QAT_LIB_DIALECT_QAT_TRANSFORMS_TRAINSTEPUTILS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::qat {

/// Makes sure `module` has a mutable private `ml_program.global` named
/// `name` of `type`: reuses one that exists (a saved module resumes from
/// it), else creates it with the splat `initial` after the last global.
/// Fails with a diagnostic if the symbol exists but does not fit.
LogicalResult getOrCreateStateGlobal(ModuleOp module, StringRef name,
                                     RankedTensorType type, Attribute initial);

/// The training step `name` (made by --qat-optimizer), or null after a
/// diagnostic on `module` saying so.
func::FuncOp lookupTrainStep(ModuleOp module, StringRef name);

/// The call in `step` to the function --qat-generate-backward made (the
/// callee with qat.gradient results), or null after a diagnostic on `step`
/// saying which passes to run first.
func::CallOp findGradientCall(ModuleOp module, func::FuncOp step);

} // namespace mlir::qat

#endif // QAT_LIB_DIALECT_QAT_TRANSFORMS_TRAINSTEPUTILS_H
