//===- QatOps.h - qat dialect operations ------------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATOPS_H
#define QAT_DIALECT_QAT_IR_QATOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "qat/Dialect/Qat/IR/QatDialect.h"

#include "qat/Dialect/Qat/IR/QatEnums.h.inc"

#define GET_OP_CLASSES
#include "qat/Dialect/Qat/IR/QatOps.h.inc"

#endif // QAT_DIALECT_QAT_IR_QATOPS_H
