//===- qat-opt.cpp - the qat-mlir optimizer driver --------------*- C++ -*-===//
//
// Part of qat-mlir. An mlir-opt with the qat dialect, its passes and
// pipelines, and everything upstream.
//
//===----------------------------------------------------------------------===//

#include "qat/InitAll.h"
#include "qat/Support/AtomicFile.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

#include "llvm/Support/WithColor.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::qat::registerAllDialects(registry);
  mlir::qat::registerAllPasses();
  auto [input, output] = mlir::registerAndParseCLIOptions(
      argc, argv, "qat-mlir optimizer driver\n", registry);
  // mlir-opt maps its input and truncates the output before reading it:
  // the same file dies with SIGBUS and is lost.
  if (mlir::qat::isSameFile(input, output)) {
    llvm::WithColor::error(llvm::errs(), "qat-opt")
        << "-o '" << output
        << "' is the input file; write the result to another file\n";
    return 1;
  }
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, input, output, registry));
}
