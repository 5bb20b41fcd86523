//===- qat-import.cpp - TorchScript models into MLIR ------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//   qat-import model.pt -o model.mlir [--input-shape 1x3x224x224]
//              [--mode eval|train]
//
// The output file is written only when the whole import succeeded.
//
//===----------------------------------------------------------------------===//

#include "qat/Import/Torch/TorchImporter.h"
#include "qat/Support/AtomicFile.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include "mlir/IR/Diagnostics.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory toolOptions("qat-import options");
static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<TorchScript archive (.pt)>"),
                                      cl::Required, cl::cat(toolOptions));
static cl::opt<std::string> outputFile("o", cl::desc("Output .mlir file"),
                                       cl::value_desc("file"), cl::init("-"),
                                       cl::cat(toolOptions));
static cl::list<std::string> inputShapes(
    "input-shape",
    cl::desc("Shape of an input as NxCxHxW (one per model input, in order; "
             "default: the shapes recorded by tracing); a trailing xi64 "
             "makes it int64 (class-index targets: NxHxWxi64)"),
    cl::cat(toolOptions));
enum class Mode { Eval, Train };
static cl::opt<Mode>
    mode("mode", cl::desc("Which semantics batch norm and dropout take"),
         cl::values(clEnumValN(Mode::Eval, "eval", "inference (default)"),
                    clEnumValN(Mode::Train, "train", "training")),
         cl::init(Mode::Eval), cl::cat(toolOptions));
static cl::opt<bool>
    debugInfo("debug-info",
              cl::desc("Print locations (the model's Python source lines)"),
              cl::cat(toolOptions));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "qat-import") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  // --help lists this tool's options, not the LLVM library's.
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "qat-mlir: import a TorchScript model\n");

  if (qat::isSameFile(inputFile, outputFile))
    return fail("-o '" + outputFile +
                "' is the input model; write the MLIR to another file");
  qat::TorchImportOptions options;
  options.trainingMode = mode == Mode::Train;
  for (const std::string &text : inputShapes) {
    std::vector<int64_t> shape;
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(text).split(parts, 'x');
    std::string elementType = "f32";
    if (parts.size() > 1 && (parts.back() == "i64" || parts.back() == "f32"))
      elementType = parts.pop_back_val().str();
    // The importer runs the model on zeros of this shape: a typo such as
    // 1000000x3x224x224 would ask for terabytes.
    constexpr int64_t kMaxElements = int64_t(1) << 31;
    int64_t elements = 1;
    for (llvm::StringRef part : parts) {
      int64_t size;
      if (part.getAsInteger(10, size) || size <= 0)
        return fail("--input-shape '" + text +
                    "' is not a shape such as 1x3x224x224");
      if (llvm::MulOverflow(elements, size, elements) ||
          elements > kMaxElements)
        return fail("--input-shape '" + text +
                    "' has more than 2^31 elements (8 GiB of f32)");
      shape.push_back(size);
    }
    options.inputShapes.push_back(shape);
    options.inputTypes.push_back(elementType);
  }

  MLIRContext context;
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module =
      qat::importTorchScript(&context, inputFile, options);
  if (!module)
    return 1;

  OpPrintingFlags flags;
  if (debugInfo)
    flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
  if (llvm::Error error = qat::writeFileAtomically(
          outputFile, [&](llvm::raw_pwrite_stream &os) {
            module->print(os, flags);
            return llvm::Error::success();
          }))
    return fail(llvm::toString(std::move(error)));
  return 0;
}
