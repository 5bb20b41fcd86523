//===- qat-run.cpp - run an MLIR function on .npy arrays --------*- C++ -*-===//
//
// Part of qat-mlir.
//
//   qat-run model.mlir --entry forward --input x.npy -o y.npy
//
// Lowers the module with qat-lower-to-llvm, JIT-compiles it and calls the
// entry function; outputs are written only after the call succeeded.
//
//===----------------------------------------------------------------------===//

#include "qat/ExecutionEngine/CompileCache.h"
#include "qat/ExecutionEngine/JitRunner.h"
#include "qat/InitAll.h"
#include "qat/Support/AtomicFile.h"
#include "qat/Support/InputChecks.h"
#include "qat/Support/Npy.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

#include <algorithm>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory toolOptions("qat-run options");
static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<input .mlir file>"),
                                      cl::Required, cl::cat(toolOptions));
static cl::opt<std::string>
    entryName("entry",
              cl::desc("Function to call (default: predict if the module has "
                       "it, as imported models do, else forward)"),
              cl::cat(toolOptions));
static cl::list<std::string>
    inputArrays("input", cl::desc("A .npy file per argument, in order"),
                cl::cat(toolOptions));
static cl::list<std::string>
    outputArrays("o", cl::desc("A .npy file per result, in order"),
                 cl::cat(toolOptions));
static cl::alias outputAlias("output", cl::desc("Alias for -o"),
                             cl::aliasopt(outputArrays), cl::cat(toolOptions));
static cl::opt<std::string> outputDir(
    "output-dir",
    cl::desc("Directory (created if missing) to write every result to, as "
             "result0.npy, result1.npy, ..."),
    cl::cat(toolOptions));
static cl::list<std::string>
    sharedLibs("shared-libs", cl::desc("Extra shared libraries to load"),
               cl::CommaSeparated, cl::cat(toolOptions));
static cl::opt<unsigned>
    calls("repeat",
          cl::desc("Call the function N times and print the compile time and "
                   "the call times (median, minimum) to stderr"),
          cl::init(1), cl::cat(toolOptions));
static cl::opt<unsigned>
    optLevel("O", cl::Prefix, cl::desc("LLVM optimization level (-O0 to -O3)"),
             cl::init(2), cl::cat(toolOptions));

static cl::opt<std::string>
    int8Isa("int8-isa",
            cl::desc("int8 linalg.mmt4d microkernels for this instruction set "
                     "(avx512vnni, avxvnni, avx2, or host: the best this CPU "
                     "runs; empty: generic loops)"),
            cl::init("host"), cl::cat(toolOptions));
static cl::opt<unsigned>
    threads("num-threads",
            cl::desc("Threads each large op runs on (OpenMP); default 1"),
            cl::init(1), cl::cat(toolOptions));

static cl::opt<std::string> cacheDir("cache-dir",
                                     cl::desc(qat::kCompileCacheDirHelp),
                                     cl::value_desc("directory"),
                                     cl::cat(toolOptions));
static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "qat-run") << message << "\n";
  return 1;
}

static void printTimes(const qat::JitResult &result) {
  std::vector<double> times = result.callSeconds;
  std::sort(times.begin(), times.end());
  llvm::errs() << llvm::format(
      "qat-run: %s in %.3f s; %zu calls: median %.6f s, min %.6f s\n",
      result.loadedFromCache ? "loaded from the cache" : "compiled",
      result.compileSeconds, times.size(), times[times.size() / 2],
      times.front());
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  qat::keepFreedMemoryInProcess();
  // --help lists this tool's options, not the LLVM library's.
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "qat-mlir: run a function on .npy arrays\n");
  if (optLevel > 3)
    return fail("-O must be 0, 1, 2 or 3");
  if (calls == 0)
    return fail("--repeat must be at least 1");
  if (!outputDir.empty() && !outputArrays.empty())
    return fail("give either -o files or --output-dir, not both");

  for (const std::string &output : outputArrays)
    for (const std::string &input : inputArrays)
      if (qat::isSameFile(input, output))
        return fail("-o '" + output + "' is an input; write to another file");

  std::vector<qat::NpyArray> inputs;
  for (const std::string &path : inputArrays) {
    auto array = qat::readNpy(path);
    if (!array)
      return fail(llvm::toString(array.takeError()));
    inputs.push_back(std::move(*array));
  }

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

  std::string entry = entryName;
  if (entry.empty())
    entry = module->lookupSymbol("predict") ? "predict" : "forward";
  qat::JitOptions options;
  options.optLevel = optLevel;
  options.sharedLibs.push_back(QAT_C_RUNNER_UTILS);
  options.sharedLibs.insert(options.sharedLibs.end(), sharedLibs.begin(),
                            sharedLibs.end());
  options.calls = calls;
  options.threads = std::max(1u, threads.getValue());
  options.int8Isa = int8Isa;
  options.cacheDir = qat::compileCacheDir(cacheDir);
  if (options.threads > 1)
    options.sharedLibs.push_back(QAT_OPENMP_RUNTIME);
  FailureOr<qat::JitResult> result =
      qat::runJit(*module, entry, inputs, options);
  if (failed(result))
    return 1;
  if (calls > 1)
    printTimes(*result);
  const std::vector<qat::NpyArray> *outputs = &result->outputs;
  std::vector<std::string> paths(outputArrays.begin(), outputArrays.end());
  if (!outputDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(outputDir))
      return fail("cannot create " + outputDir + ": " + ec.message());
    for (size_t index = 0; index < outputs->size(); ++index)
      paths.push_back(outputDir + "/result" + std::to_string(index) + ".npy");
  }
  // Every result or none (a timing run): a dropped result would go unseen.
  if (!paths.empty() && paths.size() != outputs->size())
    return fail(llvm::Twine(paths.size()) + " output files for " +
                llvm::Twine(outputs->size()) + " results of '" + entry +
                "': give one -o per result");
  for (auto [path, array] : llvm::zip(paths, *outputs))
    if (llvm::Error error = qat::writeNpy(path, array))
      return fail(llvm::toString(std::move(error)));
  return 0;
}
