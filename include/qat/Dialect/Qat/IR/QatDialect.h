//===- QatDialect.h - qat dialect -------------------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATDIALECT_H
#define QAT_DIALECT_QAT_IR_QATDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "qat/Dialect/Qat/IR/QatOpsDialect.h.inc"

namespace mlir::qat {
/// Marks the ops the importer made for one of PyTorch's loss functions:
/// --qat-prepare leaves them (and everything after them) in float, reading
/// raw targets, as a PyTorch loss outside the prepared network computes.
inline constexpr llvm::StringLiteral kLossAttr = "qat.loss";
} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_IR_QATDIALECT_H
