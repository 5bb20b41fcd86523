//===- qat-pipeline-doc.cpp - the pipelines as a Markdown page ------------===//
//
// Part of qat-mlir. Writes docs/generated/QatPipelines.md from the pipeline
// builders themselves, so the picture of the pass order cannot go stale.
//
//===----------------------------------------------------------------------===//

#include "qat/Pipelines/Pipelines.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("file"), cl::init("-"));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv, "qat-mlir: the pass pipelines as a Markdown page\n");
  std::error_code error;
  ToolOutputFile output(outputFile, error, sys::fs::OF_Text);
  if (error) {
    WithColor::error(errs(), "qat-pipeline-doc")
        << "cannot write '" << outputFile << "': " << error.message() << "\n";
    return 1;
  }
  mlir::qat::printPipelinesMarkdown(output.os());
  output.keep();
  return 0;
}
