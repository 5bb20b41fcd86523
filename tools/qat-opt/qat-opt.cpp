//===- qat-opt.cpp - the qat-mlir optimizer driver --------------*- C++ -*-===//
//
// Part of qat-mlir. An mlir-opt with the qat dialect, its passes and
// pipelines, and everything upstream. Unlike mlir-opt it refuses an output
// that is its input, and it keeps the inputs that crash MLIR 22 itself from
// reaching it (qat/Support/InputChecks.h).
//
//===----------------------------------------------------------------------===//

#include "qat/InitAll.h"
#include "qat/Support/AtomicFile.h"
#include "qat/Support/InputChecks.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;

int main(int argc, char **argv) {
  DialectRegistry registry;
  qat::registerAllDialects(registry);
  qat::registerAllPasses();
  auto [input, output] = registerAndParseCLIOptions(
      argc, argv, "qat-mlir optimizer driver\n", registry);
  // mlir-opt maps its input and truncates the output before reading it:
  // the same file dies with SIGBUS and is lost.
  if (qat::isSameFile(input, output)) {
    llvm::WithColor::error(llvm::errs(), "qat-opt")
        << "-o '" << output
        << "' is the input file; write the result to another file\n";
    return 1;
  }
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects() || config.shouldListPasses())
    return asMainReturnCode(MlirOptMain(argc, argv, input, output, registry));

  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> file =
      openInputFile(input, &errorMessage);
  if (!file) {
    llvm::errs() << errorMessage << "\n";
    return 1;
  }
  if (std::optional<qat::ParserCrashSite> site =
          qat::findParserCrash(file->getBuffer())) {
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBuffer(file->getMemBufferRef(), false),
        llvm::SMLoc());
    sourceMgr.PrintMessage(llvm::SMLoc::getFromPointer(site->where),
                           llvm::SourceMgr::DK_Error, site->message);
    return 1;
  }
  // The IR checks run before the pipeline the command line asks for.
  MlirOptMainConfig cliPipeline = config;
  config.setPassPipelineSetupFn([cliPipeline](PassManager &pm) {
    pm.addPass(qat::createCheckUpstreamCrashesPass());
    return cliPipeline.setupPassPipeline(pm);
  });
  std::unique_ptr<llvm::ToolOutputFile> outputFile =
      openOutputFile(output, &errorMessage);
  if (!outputFile) {
    llvm::errs() << errorMessage << "\n";
    return 1;
  }
  if (failed(MlirOptMain(outputFile->os(), std::move(file), registry, config)))
    return 1;
  outputFile->keep();
  return 0;
}
