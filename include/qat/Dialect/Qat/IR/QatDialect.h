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

#endif // QAT_DIALECT_QAT_IR_QATDIALECT_H
