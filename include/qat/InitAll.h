//===- InitAll.h - register everything qat-mlir tools use -------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_INITALL_H
#define QAT_INITALL_H

namespace mlir {
class DialectRegistry;

namespace qat {

/// The qat dialect, every upstream dialect, and the upstream interface
/// implementations (bufferization, conversion to LLVM, translation to LLVM
/// IR) that qat-mlir's pipelines rely on.
void registerAllDialects(DialectRegistry &registry);

/// The qat-mlir passes and pipelines, and every upstream pass.
void registerAllPasses();

} // namespace qat
} // namespace mlir

#endif // QAT_INITALL_H
