//===- qat-mlir-fuzzer.cpp - libFuzzer target: MLIR in, pipelines run -----===//
//
// Part of qat-mlir. Any bytes are read as MLIR source with every dialect the
// tools register, checked as the tools check their inputs
// (qat/Support/InputChecks.h), verified, printed, and then run through one
// of the project's passes or pipelines (picked by the input's size, so that
// mutations visit them all). A pass may fail with a diagnostic; it must not
// crash, and it must leave IR that verifies.
//
//===----------------------------------------------------------------------===//

#include "qat/InitAll.h"
#include "qat/Support/InputChecks.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdlib>

using namespace mlir;

namespace {

/// What the fuzzer runs after parsing: the project's passes on the qat
/// dialect and the three pipelines the tools are built from.
constexpr const char *kPipelines[] = {
    "convert-qat-to-tosa",
    "convert-qat-to-linalg",
    "qat-prepare",
    "qat-fold-batchnorm",
    "qat-target-exact",
    "qat-fold-quant",
    "func.func(qat-rebatch{batch=2})",
    "qat-generate-backward",
    "qat-optimizer",
    "qat-grad-boost",
    "qat-stat-assist",
    "qat-frozen-bn-forward",
    "qat-deploy-pipeline",
    "qat-train-step-pipeline",
    "qat-lower-to-llvm",
};

const DialectRegistry &registry() {
  static DialectRegistry *registry = [] {
    auto *registry = new DialectRegistry;
    qat::registerAllDialects(*registry);
    qat::registerAllPasses();
    return registry;
  }();
  return *registry;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // MLIR's lexer reads up to a terminating NUL, as every file buffer has;
  // libFuzzer's data has none.
  std::string source(reinterpret_cast<const char *>(data), size);
  llvm::StringRef text(source.c_str(), size);
  if (qat::findParserCrash(text))
    return 0;
  MLIRContext context(registry(), MLIRContext::Threading::DISABLED);
  context.allowUnregisteredDialects(false);
  context.getDiagEngine().registerHandler([](Diagnostic &) {});
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, ParserConfig(&context));
  if (!module || failed(qat::checkIRForUpstreamCrashes(*module)))
    return 0;
  std::string printed;
  llvm::raw_string_ostream os(printed);
  module->print(os);

  PassManager pm(&context, ModuleOp::getOperationName(),
                 OpPassManager::Nesting::Implicit);
  const char *pipeline = kPipelines[size % std::size(kPipelines)];
  if (failed(parsePassPipeline(pipeline, pm)))
    abort();
  pm.enableVerifier(true);
  (void)pm.run(*module);
  return 0;
}
