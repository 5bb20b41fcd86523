//===- QatInterfaces.cpp - qat op interfaces --------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/IR/QatInterfaces.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;

#include "qat/Dialect/Qat/IR/QatInterfaces.cpp.inc"
