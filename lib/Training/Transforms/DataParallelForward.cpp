//===- DataParallelForward.cpp - a forward for one replica ----------------===//
//
// Part of qat-mlir. The --qat-data-parallel-forward pass: where a replica
// of a data-parallel step must meet the others, as ops the backward
// generation and the lowering already understand.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"
#include "qat/Training/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"

namespace mlir::qat {
#define GEN_PASS_DEF_DATAPARALLELFORWARDPASS
#include "qat/Training/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

struct DataParallelForwardPass
    : qat::impl::DataParallelForwardPassBase<DataParallelForwardPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>(forwardName);
    if (!forward || forward.isExternal()) {
      module.emitError("--qat-data-parallel-forward: no function '")
          << forwardName << "' to copy";
      return signalPassFailure();
    }
    if (replicas < 1) {
      module.emitError("--qat-data-parallel-forward: replicas must be at "
                       "least 1, not ")
          << static_cast<int64_t>(replicas);
      return signalPassFailure();
    }
    if (Operation *old = module.lookupSymbol(functionName))
      old->erase();
    func::FuncOp twin = forward.clone();
    twin.setName(functionName);
    twin.setPrivate();
    module.push_back(twin);

    OpBuilder builder(twin.getBody());
    for (BlockArgument argument : twin.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(argument.getType());
      if (!twin.getArgAttr(argument.getArgNumber(), "qat.trainable") || !type ||
          !type.getElementType().isF32() || argument.use_empty())
        continue;
      auto shared = ReplicatedParameterOp::create(
          builder, argument.getLoc(), argument, replicas.getValue());
      argument.replaceAllUsesExcept(shared, shared);
    }

    twin.walk([&](Operation *op) {
      if (auto observer = dyn_cast<ObserveMinMaxOp>(op))
        observer.setAcrossReplicas(true);
      else if (auto observer = dyn_cast<ObserveMovingAverageMinMaxOp>(op))
        observer.setAcrossReplicas(true);
      else if (auto batchNorm = dyn_cast<BatchNormOp>(op))
        if (batchNorm.getTraining())
          shareStatistics(batchNorm);
    });
  }

  /// Synchronized: the op computes the global batch's statistics. Local:
  /// the replicas average their running statistics after the update.
  void shareStatistics(BatchNormOp batchNorm) {
    if (syncBatchNorm) {
      batchNorm.setReplicas(replicas.getValue());
      return;
    }
    OpBuilder builder(batchNorm->getContext());
    builder.setInsertionPointAfter(batchNorm);
    Location loc = batchNorm.getLoc();
    float inverse = 1.0f / static_cast<float>(replicas);
    for (Value running :
         {batchNorm.getNewRunningMean(), batchNorm.getNewRunningVar()}) {
      Value sum = AllReduceOp::create(builder, loc, ReduceKind::sum, running);
      Value mean = builders::mul(builder, loc, sum,
                                 builders::scalar(builder, loc, inverse, 1));
      running.replaceAllUsesExcept(mean, sum.getDefiningOp());
    }
  }
};

} // namespace
