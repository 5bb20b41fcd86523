//===- QatToTosa.h - expand qat ops into tosa -------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_CONVERSION_QATTOTOSA_QATTOTOSA_H
#define QAT_CONVERSION_QATTOTOSA_QATTOTOSA_H

namespace mlir {
class RewritePatternSet;

namespace qat {

/// Patterns that expand the qat ops which are compositions of tosa
/// arithmetic (qat.batch_norm) into that arithmetic.
void populateQatToTosaConversionPatterns(RewritePatternSet &patterns);

} // namespace qat
} // namespace mlir

#endif // QAT_CONVERSION_QATTOTOSA_QATTOTOSA_H
