//===- qat-opt.cpp - the qat-mlir optimizer driver --------------*- C++ -*-===//
//
// Part of qat-mlir. An mlir-opt with the qat dialect, its passes and
// pipelines, and everything upstream.
//
//===----------------------------------------------------------------------===//

#include "qat/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::qat::registerAllDialects(registry);
  mlir::qat::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "qat-mlir optimizer driver\n", registry));
}
