//===- QatToLinalg.h - lowering qat ops to linalg ---------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_CONVERSION_QATTOLINALG_QATTOLINALG_H
#define QAT_CONVERSION_QATTOLINALG_QATTOLINALG_H

namespace mlir {
class RewritePatternSet;

namespace qat {

/// Adds the patterns that rewrite every qat op into linalg, arith, math and
/// tensor ops with the same numerics.
void populateQatToLinalgConversionPatterns(RewritePatternSet &patterns);

/// The patterns of each op family, which the above adds together:
/// fake quantization, quantize, dequantize, requantize, straight-through;
void populateQuantToLinalgPatterns(RewritePatternSet &patterns);
/// observers and qat.choose_qparams;
void populateObserversToLinalgPatterns(RewritePatternSet &patterns);
/// dropout, the softmax cross-entropy loss, GradBoost.
void populateTrainingOpsToLinalgPatterns(RewritePatternSet &patterns);

} // namespace qat
} // namespace mlir

#endif // QAT_CONVERSION_QATTOLINALG_QATTOLINALG_H
