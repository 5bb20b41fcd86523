//===- QatToLinalg.cpp - lowering qat ops to linalg -------------*- C++ -*-===//
//
// Part of qat-mlir.
//
// Each qat op becomes linalg.generic ops on tensors whose bodies use arith
// and math ops in the exact order of the op's documented formula, so the
// lowered code rounds exactly as PyTorch's CPU kernels do.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/QatToLinalg/QatToLinalg.h"

#include "mlir/IR/PatternMatch.h"

using namespace mlir;

void mlir::qat::populateQatToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  populateQuantToLinalgPatterns(patterns);
  populateObserversToLinalgPatterns(patterns);
  populateTrainingOpsToLinalgPatterns(patterns);
}
