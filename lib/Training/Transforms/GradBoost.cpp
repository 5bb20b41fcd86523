//===- GradBoost.cpp - GradBoost in the training step -----------*- C++ -*-===//
//
// Part of qat-mlir. The --qat-grad-boost pass.
//
//===----------------------------------------------------------------------===//

#include "TrainStepUtils.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Utils/StateGlobals.h"
#include "qat/Training/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"

namespace mlir::qat {
#define GEN_PASS_DEF_GRADBOOSTPASS
#include "qat/Training/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

struct GradBoostPass : qat::impl::GradBoostPassBase<GradBoostPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp step = lookupTrainStep(module, functionName);
    if (!step)
      return signalPassFailure();
    if (llvm::any_of(step.getArguments(), [&](BlockArgument arg) {
          auto name = step.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                        "qat.input");
          return name && name.getValue() == "grad_boost_noise";
        })) {
      step.emitError() << "already has GradBoost";
      return signalPassFailure();
    }
    func::CallOp call = findGradientCall(module, step);
    if (!call)
      return signalPassFailure();
    auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
    if (failed(rewrite(module, step, call, callee)))
      signalPassFailure();
  }

  LogicalResult rewrite(ModuleOp module, func::FuncOp step, func::CallOp call,
                        func::FuncOp callee) {
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    Location loc = call.getLoc();
    Block &body = step.getBody().front();
    auto i64Scalar = RankedTensorType::get({}, b.getI64Type());
    auto f32Scalar = RankedTensorType::get({}, b.getF32Type());

    auto stateDict = [&](StringRef role, StringRef name) {
      return b.getDictionaryAttr(b.getNamedAttr(role, b.getStringAttr(name)));
    };

    // Counters and the noise switch.
    if (failed(getOrCreateStateGlobal(module, "grad_boost.step", i64Scalar,
                                      b.getI64IntegerAttr(0))) ||
        failed(getOrCreateStateGlobal(module, "grad_boost.qat_steps", i64Scalar,
                                      b.getI64IntegerAttr(0))))
      return failure();
    unsigned first = step.getNumArguments();
    SmallVector<std::pair<Type, DictionaryAttr>> added = {
        {i64Scalar, stateDict("qat.state", "grad_boost.step")},
        {i64Scalar, stateDict("qat.state", "grad_boost.qat_steps")},
        {f32Scalar, stateDict("qat.input", "grad_boost_noise")},
        {i64Scalar, stateDict("qat.input", "grad_boost_seed")}};
    SmallVector<unsigned> gradientResults;
    for (unsigned i = 0; i < callee.getNumResults(); ++i)
      if (auto name =
              callee.getResultAttrOfType<StringAttr>(i, "qat.gradient")) {
        gradientResults.push_back(i);
        auto type = cast<RankedTensorType>(callee.getResultTypes()[i]);
        for (StringRef kind : {"max", "min"}) {
          std::string global =
              ("grad_boost." + kind + "." + name.getValue()).str();
          if (failed(getOrCreateStateGlobal(module, global, type,
                                            b.getF32FloatAttr(0.0f))))
            return failure();
          added.push_back({type, stateDict("qat.state", global)});
        }
      }
    for (auto [type, attrs] : added)
      if (failed(step.insertArgument(step.getNumArguments(), type, attrs,
                                     step.getLoc())))
        return failure();

    Value stepCount = body.getArgument(first);
    Value qatSteps = body.getArgument(first + 1);
    Value noise = body.getArgument(first + 2);
    // A runtime input, so that runs differing only in their seed share one
    // compiled step (qat-train's compile cache).
    Value seedValue = body.getArgument(first + 3);
    b.setInsertionPointAfter(call);
    Value one = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(i64Scalar, int64_t(1)));
    Value newStep = arith::AddIOp::create(b, loc, stepCount, one);
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(f32Scalar, 0.0f));
    Value noisy =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, noise, zero);
    Value newQatSteps = arith::AddIOp::create(
        b, loc, qatSteps, arith::ExtUIOp::create(b, loc, i64Scalar, noisy));

    SmallVector<Value> newResults{newStep, newQatSteps};
    SmallVector<DictionaryAttr> newResultAttrs{
        stateDict("qat.state", "grad_boost.step"),
        stateDict("qat.state", "grad_boost.qat_steps")};
    for (auto [stream, resultIndex] : llvm::enumerate(gradientResults)) {
      Value gradient = call.getResult(resultIndex);
      Value max = body.getArgument(first + 4 + 2 * stream);
      Value min = body.getArgument(first + 5 + 2 * stream);
      auto boost = GradBoostOp::create(
          b, loc, TypeRange{gradient.getType(), max.getType(), min.getType()},
          GradBoostVariantAttr::get(ctx, variant), gradient, max, min, newStep,
          qatSteps, seedValue, noise,
          b.getI64IntegerAttr(static_cast<int64_t>(stream)),
          b.getF32FloatAttr(beta), b.getF32FloatAttr(decay),
          b.getF32FloatAttr(clip), b.getF32FloatAttr(coinProbability));
      gradient.replaceAllUsesExcept(boost.getBoostedGradient(), boost);
      newResults.push_back(boost.getNewMaxStat());
      newResults.push_back(boost.getNewMinStat());
      newResultAttrs.push_back(step.getArgAttrDict(first + 4 + 2 * stream));
      newResultAttrs.push_back(step.getArgAttrDict(first + 5 + 2 * stream));
    }

    auto ret = cast<func::ReturnOp>(body.getTerminator());
    for (auto [value, attrs] : llvm::zip_equal(newResults, newResultAttrs)) {
      if (failed(
              step.insertResult(step.getNumResults(), value.getType(), attrs)))
        return failure();
      ret->insertOperands(ret.getNumOperands(), value);
    }
    return success();
  }
};

} // namespace
