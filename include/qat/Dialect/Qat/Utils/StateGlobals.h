//===- StateGlobals.h - globals that hold training state -------*- C++ -*-===//
//
// Part of qat-mlir. Observers (--qat-prepare), the optimizer's momentum and
// GradBoost's statistics keep their state in ml_program globals.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_UTILS_STATEGLOBALS_H
#define QAT_DIALECT_QAT_UTILS_STATEGLOBALS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::qat {

/// Makes sure `module` has a mutable private `ml_program.global` named
/// `name` of `type`: reuses one that exists (a saved module resumes from
/// it), else creates it with the splat `initial` after the last global.
/// Fails with a diagnostic if the symbol exists but does not fit.
LogicalResult getOrCreateStateGlobal(ModuleOp module, StringRef name,
                                     RankedTensorType type, Attribute initial);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_STATEGLOBALS_H
