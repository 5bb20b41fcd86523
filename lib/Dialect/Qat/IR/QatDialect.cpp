//===- QatDialect.cpp - qat dialect -----------------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/IR/QatDialect.h"
#include "qat/Dialect/Qat/IR/QatOps.h"

using namespace mlir;
using namespace mlir::qat;

#include "qat/Dialect/Qat/IR/QatOpsDialect.cpp.inc"

void QatDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "qat/Dialect/Qat/IR/QatOps.cpp.inc"
      >();
}
