//===- CodegenOptions.cpp - LLVM settings for generated code --------------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Support/CodegenOptions.h"

#include "llvm/Support/CommandLine.h"

void mlir::qat::configureCodegenForGeneratedCode() {
  // LLVM declares this option inside its DAG combiner, so it is reached by
  // name (the tools link libLLVM, which registers it).
  auto &options = llvm::cl::getRegisteredOptions();
  auto found = options.find("combiner-store-merging");
  if (found == options.end())
    return;
  auto *storeMerging = static_cast<llvm::cl::opt<bool> *>(found->second);
  if (storeMerging->getNumOccurrences() == 0)
    storeMerging->setValue(false);
}
