//===- TrainStepUtils.cpp - finding the parts of a training step ---------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "TrainStepUtils.h"

using namespace mlir;

func::FuncOp mlir::qat::lookupTrainStep(ModuleOp module, StringRef name) {
  auto step = module.lookupSymbol<func::FuncOp>(name);
  if (!step || step.isExternal()) {
    module.emitError() << "no function '" << name
                       << "': run --qat-optimizer first";
    return {};
  }
  return step;
}

func::CallOp mlir::qat::findGradientCall(ModuleOp module, func::FuncOp step) {
  func::CallOp call;
  step.walk([&](func::CallOp candidate) {
    auto target = module.lookupSymbol<func::FuncOp>(candidate.getCallee());
    if (!call && target &&
        llvm::any_of(llvm::seq(target.getNumResults()), [&](unsigned i) {
          return static_cast<bool>(target.getResultAttr(i, "qat.gradient"));
        }))
      call = candidate;
  });
  if (!call)
    step.emitError() << "calls no function that returns qat.gradient "
                        "results: run --qat-generate-backward and "
                        "--qat-optimizer first";
  return call;
}
