//===- qat-export.cpp - a module's state as a PyTorch state_dict ----------===//
//
// Part of qat-mlir.
//
//   qat-export model.mlir -o state_dict.pt
//
// Writes the module's ml_program globals (parameters and buffers, named as
// in PyTorch) in torch.save's format: load_state_dict(torch.load(...)).
//
//===----------------------------------------------------------------------===//

#include "qat/Import/Torch/StateDictExport.h"
#include "qat/InitAll.h"
#include "qat/Support/InputChecks.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory toolOptions("qat-export options");
static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<input .mlir file>"),
                                      cl::Required, cl::cat(toolOptions));
static cl::opt<std::string> outputFile("o", cl::desc("Output state_dict file"),
                                       cl::value_desc("file"), cl::Required,
                                       cl::cat(toolOptions));

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  // --help lists this tool's options, not the LLVM library's.
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(
      argc, argv, "qat-mlir: write a module's state as a PyTorch state_dict\n");
  DialectRegistry registry;
  qat::registerAllDialects(registry);
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module =
      qat::parseCheckedModule(inputFile, sourceMgr, &context);
  if (!module || failed(qat::exportStateDict(*module, outputFile)))
    return 1;
  return 0;
}
