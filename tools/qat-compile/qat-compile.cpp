//===- qat-compile.cpp - trained QAT modules to native int8 code ----------===//
//
// Part of qat-mlir.
//
//   qat-compile trained.mlir --emit=exe -o model      (for this CPU: host)
//   qat-compile trained.mlir --target=x86_64-avx2 --emit=exe -o model
//
// Folds the trained module's evaluation function into an integer program
// (--qat-fold-batchnorm, --qat-fold-quant), binds and evaluates the trained
// values, checks the accumulators, and emits code for the target. All logic
// lives in the QatCompiler library.
//
//===----------------------------------------------------------------------===//

#include "qat/Compiler/Compiler.h"
#include "qat/InitAll.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Support/AtomicFile.h"
#include "qat/Support/InputChecks.h"
#include "qat/Training/Dataset.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"
#include "llvm/TargetParser/Triple.h"

#include <cmath>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory toolOptions("qat-compile options");
static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<trained .mlir module>"),
                                      cl::cat(toolOptions));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("file"),
                                       cl::cat(toolOptions));
static cl::opt<qat::EmitKind> emitKind(
    "emit", cl::desc("What to write"), cl::init(qat::EmitKind::Obj),
    cl::values(
        clEnumValN(qat::EmitKind::MLIR, "mlir",
                   "The deployable int8 function (constants bound), MLIR"),
        clEnumValN(qat::EmitKind::LLVM, "llvm", "Optimized LLVM IR"),
        clEnumValN(qat::EmitKind::Asm, "asm", "Assembly"),
        clEnumValN(qat::EmitKind::Obj, "obj", "An object file (C ABI)"),
        clEnumValN(qat::EmitKind::Header, "header",
                   "The C header of the object's interface"),
        clEnumValN(qat::EmitKind::Lib, "lib", "A shared library"),
        clEnumValN(qat::EmitKind::Exe, "exe",
                   "A static classifier program: ./model "
                   "IMAGES.idx[.gz]|.npy [LABELS.idx[.gz]|.npy] "
                   "[--logits FILE]")),
    cl::cat(toolOptions));
static cl::opt<std::string> targetName(
    "target",
    cl::desc("Code generation target (--print-targets); host: the best "
             "target this CPU runs"),
    cl::init("host"), cl::cat(toolOptions));
static cl::opt<bool> reportKernels(
    "report-kernels",
    cl::desc("On x86_64-avx2: say for each int8 convolution with 8-bit "
             "codes whether it runs on vpmaddubsw (no weight pair can "
             "saturate) or on the exact vpmaddwd kernel, and why"),
    cl::cat(toolOptions));
static cl::opt<bool> printTargets("print-targets",
                                  cl::desc("List the targets and exit"),
                                  cl::cat(toolOptions));
static cl::opt<std::string>
    functionName("function",
                 cl::desc("The prepared model's evaluation function "
                          "(default: forward_eval where the module has it, "
                          "else forward)"),
                 cl::cat(toolOptions));
static cl::opt<bool> keepFloat(
    "keep-float",
    cl::desc("Compile the evaluation function as trained (fp32 or "
             "fake-quantized f32 arithmetic, no --qat-fold-quant): the "
             "reference the int8 code is compared with"),
    cl::cat(toolOptions));
static cl::opt<bool> strictInt8(
    "strict-int8",
    cl::desc("Fail where an op has no integer form, rather than keep it in "
             "float between quantized values (a remark counts such ops)"),
    cl::cat(toolOptions));
static cl::opt<std::string>
    symbolName("name", cl::desc("Name of the compiled C function (prefix)"),
               cl::init("model"), cl::cat(toolOptions));
static cl::opt<int64_t>
    batchSize("batch",
              cl::desc("Images per call of the compiled function (default: "
                       "the batch the model was trained with)"),
              cl::init(0), cl::cat(toolOptions));
static cl::opt<unsigned> optLevel("O", cl::desc("Optimization level 0-3"),
                                  cl::init(3), cl::Prefix,
                                  cl::cat(toolOptions));
static cl::opt<float>
    inputMean("input-mean",
              cl::desc("Image normalization used in training (default: the "
                       "one qat-train recorded in the module, else "
                       "Fashion-MNIST's)"),
              cl::init(qat::kFashionMnistMean), cl::cat(toolOptions));
static cl::opt<float> inputStd("input-std",
                               cl::desc("Image normalization used in training"),
                               cl::init(qat::kFashionMnistStd),
                               cl::cat(toolOptions));
static cl::opt<std::string> clangPath("clang",
                                      cl::desc("clang for --emit=lib|exe"),
                                      cl::init(QAT_CLANG),
                                      cl::cat(toolOptions));
static cl::opt<std::string>
    runtimeSource("runtime-source",
                  cl::desc("The classifier program's C source"),
                  cl::init(QAT_CLASSIFIER_SOURCE), cl::cat(toolOptions));
static cl::opt<std::string>
    cpuCheckSource("cpu-check-source",
                   cl::desc("The run-time CPU check's C source"),
                   cl::init(QAT_CPU_CHECK_SOURCE), cl::cat(toolOptions));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "qat-compile") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  // --help lists this tool's options, not the LLVM library's.
  cl::HideUnrelatedOptions(toolOptions);
  // MLIR's pass-manager options (--mlir-timing, --mlir-print-ir-after...),
  // for whoever profiles or debugs a compile.
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  cl::ParseCommandLineOptions(
      argc, argv, "qat-mlir: compile a trained QAT module to int8 code\n");
  if (printTargets) {
    // Which targets this CPU runs, and which of them `host` picks.
    const qat::CpuTarget &host = qat::hostCpuTarget();
    for (const qat::CpuTarget &target : qat::cpuTargets()) {
      std::string missing = qat::missingHostFeature(target);
      bool sameArch = llvm::Triple(target.triple).getArch() ==
                      llvm::Triple(host.triple).getArch();
      StringRef mark = &target == &host  ? "host "
                       : !sameArch       ? "cross"
                       : missing.empty() ? "runs "
                                         : "     ";
      llvm::outs() << mark << " " << llvm::left_justify(target.name, 20)
                   << target.description;
      if (sameArch && !missing.empty())
        llvm::outs() << " [this CPU lacks " << missing << "]";
      llvm::outs() << "\n";
    }
    return 0;
  }
  if (inputFile.empty())
    return fail("no input module given");
  if (outputFile.empty())
    return fail("no output file given (-o)");
  if (qat::isSameFile(inputFile, outputFile))
    return fail("-o '" + outputFile +
                "' is the input module; write the output to another file");
  if (optLevel > 3)
    return fail("-O must be 0, 1, 2 or 3");
  // The classifier program divides by the standard deviation.
  if (!std::isfinite(inputMean) || !std::isfinite(inputStd) || inputStd <= 0)
    return fail("--input-mean must be finite and --input-std finite and "
                "positive (got " +
                llvm::Twine(std::to_string(inputMean)) + " and " +
                llvm::Twine(std::to_string(inputStd)) + ")");
  // The name prefixes C symbols and macros of the header.
  auto isIdentifierChar = [](char c) { return llvm::isAlnum(c) || c == '_'; };
  if (symbolName.empty() || llvm::isDigit(symbolName.front()) ||
      !llvm::all_of(symbolName, isIdentifierChar))
    return fail("--name '" + symbolName + "' is not a C identifier");
  const qat::CpuTarget *target = qat::lookupCpuTarget(targetName);
  if (!target)
    return fail("unknown target '" + targetName +
                "' (qat-compile --print-targets lists them)");

  DialectRegistry registry;
  qat::registerAllDialects(registry);
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module =
      qat::parseCheckedModule(inputFile, sourceMgr, &context);
  if (!module)
    return 1;

  // The normalization qat-train recorded, unless given.
  float mean = inputMean, std = inputStd;
  if (auto recorded = qat::recordedNormalization(*module)) {
    if (!inputMean.getNumOccurrences())
      mean = recorded->first;
    if (!inputStd.getNumOccurrences())
      std = recorded->second;
  }
  if (!std::isfinite(mean) || !std::isfinite(std) || std <= 0)
    return fail("the module's recorded normalization is not usable (mean " +
                llvm::Twine(std::to_string(mean)) + ", std " +
                llvm::Twine(std::to_string(std)) + ")");
  qat::DeployOptions deployOptions;
  deployOptions.function = functionName;
  deployOptions.keepFloat = keepFloat;
  deployOptions.strictInt8 = strictInt8;
  if (batchSize.getNumOccurrences())
    deployOptions.batch = batchSize;
  deployOptions.name = symbolName;
  qat::JitOptions jitOptions;
  jitOptions.sharedLibs.push_back(QAT_C_RUNNER_UTILS);
  auto deployed = qat::deployModule(*module, deployOptions, jitOptions);
  if (failed(deployed))
    return 1;

  qat::EmitOptions options;
  options.kind = emitKind;
  options.target = target;
  options.reportKernels = reportKernels;
  options.name = symbolName;
  options.optLevel = optLevel;
  options.inputMean = mean;
  options.inputStd = std;
  options.clang = clangPath;
  options.runtimeSource = runtimeSource;
  options.cpuCheckSource = cpuCheckSource;
  return failed(qat::emit(*deployed->module, deployed->interface, options,
                          outputFile))
             ? 1
             : 0;
}
