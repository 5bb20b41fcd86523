//===- StatAssist.cpp - the FP warm-up step of StatAssist -------*- C++ -*-===//
//
// Part of qat-mlir. The --qat-stat-assist pass.
//
//===----------------------------------------------------------------------===//

#include "TrainStepUtils.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Training/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/StringSet.h"

namespace mlir::qat {
#define GEN_PASS_DEF_STATASSISTPASS
#include "qat/Training/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Whether `value` is written by an observer or qat.choose_qparams (looking
/// through the reshapes the importer puts around 0-d state).
bool isObserverState(Value value) {
  Operation *op = value.getDefiningOp();
  while (op && isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op))
    op = op->getOperand(0).getDefiningOp();
  return op &&
         isa<ObserveMinMaxOp, ObserveMovingAverageMinMaxOp, ChooseQParamsOp>(
             op);
}

struct StatAssistPass : qat::impl::StatAssistPassBase<StatAssistPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp step = lookupTrainStep(module, functionName);
    if (!step)
      return signalPassFailure();
    if (module.lookupSymbol(warmupName)) {
      module.emitError() << "the module already has a symbol named '"
                         << warmupName << "'";
      return signalPassFailure();
    }
    func::CallOp call = findGradientCall(module, step);
    if (!call)
      return signalPassFailure();
    auto gradients = module.lookupSymbol<func::FuncOp>(call.getCallee());
    if (failed(derive(module, step, call, gradients)))
      signalPassFailure();
  }

  LogicalResult derive(ModuleOp module, func::FuncOp step, func::CallOp call,
                       func::FuncOp gradients) {
    OpBuilder b(&getContext());
    SymbolTable symbols(module);

    // The FP loss and gradients: fake quantization bypassed.
    func::FuncOp fpGradients = gradients.clone();
    fpGradients.setName((gradients.getName() + "_warmup").str());
    symbols.insert(fpGradients, Block::iterator(gradients->getNextNode()));
    bool anyFakeQuant = bypassFakeQuant(fpGradients, b);
    // The FP evaluation of the warm-up epochs, if the module has one.
    if (auto eval = module.lookupSymbol<func::FuncOp>("forward_eval");
        eval && !module.lookupSymbol("forward_eval_warmup")) {
      func::FuncOp fpEval = eval.clone();
      fpEval.setName("forward_eval_warmup");
      symbols.insert(fpEval, Block::iterator(eval->getNextNode()));
      bypassFakeQuant(fpEval, b);
    }
    if (!anyFakeQuant)
      return step.emitError()
             << "has no qat.fake_quant to bypass: StatAssist needs a model "
                "with fake quantization (run --qat-prepare first; qat-train "
                "--qconfig does)";
    Block &fpBody = fpGradients.getBody().front();
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(fpBody)))
      if (isOpTriviallyDead(&op))
        op.erase();
    return deriveStep(module, step, gradients, fpGradients, symbols, b);
  }

  /// Replaces every qat.fake_quant of `func` by its input, every
  /// straight-through mask by all true and every qat.straight_through by
  /// its float surrogate; returns whether there was any fake quantization.
  static bool bypassFakeQuant(func::FuncOp func, OpBuilder &b) {
    bool anyFakeQuant = false;
    func.walk([&](Operation *op) {
      if (auto straight = dyn_cast<StraightThroughOp>(op)) {
        // Target-exact layers: the float layer is the FP computation.
        straight.replaceAllUsesWith(straight.getSurrogate());
        straight.erase();
      } else if (auto fakeQuant = dyn_cast<FakeQuantOp>(op)) {
        fakeQuant.replaceAllUsesWith(fakeQuant.getInput());
        fakeQuant.erase();
        anyFakeQuant = true;
      } else if (auto mask = dyn_cast<FakeQuantMaskOp>(op)) {
        b.setInsertionPoint(mask);
        auto type = cast<RankedTensorType>(mask.getType());
        Value allTrue = arith::ConstantOp::create(
            b, mask.getLoc(), DenseElementsAttr::get(type, true));
        mask.replaceAllUsesWith(allTrue);
        mask.erase();
      }
    });
    return anyFakeQuant;
  }

  LogicalResult deriveStep(ModuleOp module, func::FuncOp step,
                           func::FuncOp gradients, func::FuncOp fpGradients,
                           SymbolTable &symbols, OpBuilder &b) {
    Block &fpBody = fpGradients.getBody().front();
    // The observer state the warm-up writes.
    llvm::StringSet<> observerState;
    auto ret = cast<func::ReturnOp>(fpBody.getTerminator());
    for (auto [index, value] : llvm::enumerate(ret.getOperands()))
      if (auto name =
              fpGradients.getResultAttrOfType<StringAttr>(index, "qat.state"))
        if (isObserverState(value))
          observerState.insert(name.getValue());

    // The warm-up step: the same step calling the FP function, no noise.
    func::FuncOp warmup = step.clone();
    warmup.setName(warmupName);
    symbols.insert(warmup, Block::iterator(step->getNextNode()));
    warmup.walk([&](func::CallOp warmCall) {
      if (warmCall.getCallee() == gradients.getName())
        warmCall.setCallee(fpGradients.getName());
    });
    for (unsigned i = 0; i < warmup.getNumArguments(); ++i) {
      auto name = warmup.getArgAttrOfType<StringAttr>(i, "qat.input");
      if (!name || name.getValue() != "grad_boost_noise")
        continue;
      Block &body = warmup.getBody().front();
      b.setInsertionPointToStart(&body);
      auto type = cast<RankedTensorType>(warmup.getArgument(i).getType());
      Value zero = arith::ConstantOp::create(
          b, warmup.getLoc(), DenseElementsAttr::get(type, 0.0f));
      warmup.getArgument(i).replaceAllUsesWith(zero);
      if (failed(warmup.eraseArgument(i)))
        return failure();
      break;
    }
    warmup->setAttr("qat.stat_assist_warmup", b.getUnitAttr());

    if (inheritObservers)
      return success();
    // The reference: QAT's observers start empty, so the warm-up keeps its
    // observer state apart.
    auto rename = [&](StringAttr name) -> FailureOr<StringAttr> {
      std::string renamed = ("stat_assist." + name.getValue()).str();
      auto original = module.lookupSymbol<ml_program::GlobalOp>(name);
      if (!original || !original.getValue())
        return warmup.emitError() << "observer state '" << name.getValue()
                                  << "' has no global with an initial value";
      auto type = cast<RankedTensorType>(original.getType());
      if (!module.lookupSymbol(renamed)) {
        OpBuilder top(original);
        top.setInsertionPointAfter(original);
        ml_program::GlobalOp::create(
            top, original.getLoc(), top.getStringAttr(renamed),
            TypeAttr::get(type), top.getUnitAttr(), *original.getValue(),
            top.getStringAttr("private"));
      }
      return b.getStringAttr(renamed);
    };
    for (unsigned i = 0; i < warmup.getNumArguments(); ++i)
      if (auto name = warmup.getArgAttrOfType<StringAttr>(i, "qat.state"))
        if (observerState.contains(name.getValue())) {
          auto renamed = rename(name);
          if (failed(renamed))
            return failure();
          warmup.setArgAttr(i, "qat.state", *renamed);
        }
    for (unsigned i = 0; i < warmup.getNumResults(); ++i)
      if (auto name = warmup.getResultAttrOfType<StringAttr>(i, "qat.state"))
        if (observerState.contains(name.getValue())) {
          auto renamed = rename(name);
          if (failed(renamed))
            return failure();
          warmup.setResultAttr(i, "qat.state", *renamed);
        }
    return success();
  }
};

} // namespace
