//===- FrozenBatchNormForward.cpp - forward with frozen batch norms -------===//
//
// Part of qat-mlir. The --qat-frozen-bn-forward pass.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Training/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::qat {
#define GEN_PASS_DEF_FROZENBATCHNORMFORWARDPASS
#include "qat/Training/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

struct FrozenBatchNormForwardPass
    : qat::impl::FrozenBatchNormForwardPassBase<FrozenBatchNormForwardPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>(forwardName);
    if (!forward) {
      module.emitError("--qat-frozen-bn-forward: no function '")
          << forwardName << "'";
      return signalPassFailure();
    }
    // A checkpoint saved by a run that froze its batch norms.
    if (module.lookupSymbol(functionName))
      return;
    func::FuncOp frozen = forward.clone();
    frozen.setName(functionName);
    frozen.setPrivate();
    unsigned count = 0;
    frozen.walk([&](BatchNormOp batchNorm) {
      if (batchNorm.getTraining()) {
        batchNorm.removeTrainingAttr();
        ++count;
      }
    });
    if (count == 0) {
      frozen.erase();
      forward.emitError("--qat-frozen-bn-forward: '")
          << forwardName
          << "' has no batch norm in training mode to freeze (as qat-train "
             "--freeze-bn-after-epochs needs)";
      return signalPassFailure();
    }
    module.push_back(frozen);
  }
};

} // namespace
