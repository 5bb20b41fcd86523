//===- BufferizableOpInterfaceImpl.h - bufferizing qat ops ------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
#define QAT_DIALECT_QAT_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H

#include "llvm/ADT/StringRef.h"

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::qat {

/// The runtime function a bufferized `qat.all_reduce` calls, as the C
/// declaration `void qat_all_reduce_f32(int64_t rank, void *descriptor,
/// int32_t kind)`: MLIR's unranked memref of a contiguous f32 buffer, reduced
/// in place, and the ReduceKind's number.
constexpr llvm::StringLiteral kAllReduceRuntimeFunction = "qat_all_reduce_f32";

/// BufferizableOpInterface for the qat ops that reach bufferization
/// (`qat.all_reduce`), as upstream dialects register theirs.
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
