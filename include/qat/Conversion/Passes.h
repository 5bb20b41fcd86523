//===- Passes.h - qat conversion passes -------------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_CONVERSION_PASSES_H
#define QAT_CONVERSION_PASSES_H

#include "qat/Conversion/QatToLinalg/QatToLinalg.h"
#include "qat/Conversion/QatToTosa/QatToTosa.h"

#include "mlir/Pass/Pass.h"

namespace mlir::qat {

#define GEN_PASS_DECL
#define GEN_PASS_REGISTRATION
#include "qat/Conversion/Passes.h.inc"

} // namespace mlir::qat

#endif // QAT_CONVERSION_PASSES_H
