//===- TrainStepUtils.cpp - globals that hold training state ------*- C++
//-*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "TrainStepUtils.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

LogicalResult mlir::qat::getOrCreateStateGlobal(ModuleOp module, StringRef name,
                                                RankedTensorType type,
                                                Attribute initial) {
  if (Operation *existing = module.lookupSymbol(name)) {
    auto global = dyn_cast<ml_program::GlobalOp>(existing);
    if (!global || global.getType() != type || !global.getIsMutable())
      return existing->emitError()
             << "'" << name << "' must be a mutable global of type " << type
             << " to hold training state";
    return success();
  }
  OpBuilder builder(module.getContext());
  Operation *last = nullptr;
  for (auto global : module.getOps<ml_program::GlobalOp>())
    last = global;
  if (last)
    builder.setInsertionPointAfter(last);
  else
    builder.setInsertionPointToStart(module.getBody());
  ml_program::GlobalOp::create(
      builder, module.getLoc(), builder.getStringAttr(name),
      TypeAttr::get(type), builder.getUnitAttr(),
      DenseElementsAttr::get(type, initial), builder.getStringAttr("private"));
  return success();
}

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
