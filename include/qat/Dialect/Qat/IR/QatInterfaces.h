//===- QatInterfaces.h - qat op interfaces ----------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATINTERFACES_H
#define QAT_DIALECT_QAT_IR_QATINTERFACES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/TypeUtilities.h"

#include "qat/Dialect/Qat/IR/QatInterfaces.h.inc"

#endif // QAT_DIALECT_QAT_IR_QATINTERFACES_H
