//===- Optimizer.cpp - SGD with momentum as a training step -----*- C++ -*-===//
//
// Part of qat-mlir. The --qat-optimizer pass: wraps the loss-and-gradients
// function into a training step that updates parameters and momentum.
//
//===----------------------------------------------------------------------===//

#include "TrainStepUtils.h"
#include "qat/Dialect/Qat/Utils/StateGlobals.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"
#include "qat/Training/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>

namespace mlir::qat {
#define GEN_PASS_DEF_OPTIMIZERPASS
#include "qat/Training/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Whether `weight` feeds a grouped convolution with one input channel per
/// group (through the expand_shape that splits it into groups).
bool isDepthwiseWeight(Value weight) {
  for (Operation *user : weight.getUsers()) {
    auto expand = dyn_cast<tensor::ExpandShapeOp>(user);
    if (!expand)
      continue;
    for (OpOperand &use : expand.getResult().getUses()) {
      if (!isa<linalg::Conv2DNgchwGfchwOp>(use.getOwner()) ||
          use.getOperandNumber() != 1)
        continue;
      auto type = cast<RankedTensorType>(expand.getResult().getType());
      // [groups, filters per group, channels per group, kh, kw]
      if (type.getDimSize(0) > 1 && type.getDimSize(2) == 1)
        return true;
    }
  }
  return false;
}

struct OptimizerPass : qat::impl::OptimizerPassBase<OptimizerPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto [name, value] :
         {std::pair<StringRef, double>{"momentum", momentum},
          {"weight-decay-depthwise", weightDecayDepthwise},
          {"weight-decay-conv", weightDecayConv},
          {"weight-decay-other", weightDecayOther}})
      if (!std::isfinite(value) || value < 0) {
        module.emitError() << "--qat-optimizer: " << name
                           << " must be finite and >= 0, not " << value;
        return signalPassFailure();
      }
    auto gradientFunc = module.lookupSymbol<func::FuncOp>(gradientFunction);
    if (!gradientFunc || gradientFunc.isExternal()) {
      module.emitError() << "no function '" << gradientFunction
                         << "': run --qat-generate-backward first";
      return signalPassFailure();
    }
    if (module.lookupSymbol(functionName)) {
      module.emitError() << "the module already has a symbol named '"
                         << functionName << "'";
      return signalPassFailure();
    }
    if (failed(generate(module, gradientFunc)))
      return signalPassFailure();
  }

  LogicalResult generate(ModuleOp module, func::FuncOp gradientFunc) {
    MLIRContext *ctx = &getContext();
    FunctionType gradientType = gradientFunc.getFunctionType();
    Location loc = gradientFunc.getLoc();

    // Classify the gradient function's arguments and results.
    SmallVector<unsigned> stateArgs, inputArgs, trainableArgs;
    for (unsigned i = 0; i < gradientFunc.getNumArguments(); ++i) {
      if (gradientFunc.getArgAttr(i, "qat.state"))
        stateArgs.push_back(i);
      else
        inputArgs.push_back(i);
      if (gradientFunc.getArgAttr(i, "qat.trainable"))
        trainableArgs.push_back(i);
    }
    SmallVector<unsigned> gradientResults, stateResults;
    std::optional<unsigned> logitsResult;
    for (unsigned i = 0; i < gradientFunc.getNumResults(); ++i) {
      if (gradientFunc.getResultAttr(i, "qat.gradient"))
        gradientResults.push_back(i);
      else if (gradientFunc.getResultAttr(i, "qat.state"))
        stateResults.push_back(i);
      auto output =
          gradientFunc.getResultAttrOfType<StringAttr>(i, "qat.output");
      if (output && output.getValue() == "logits")
        logitsResult = i;
    }
    if (gradientResults.size() != trainableArgs.size() || !logitsResult)
      return gradientFunc.emitError()
             << "is not a function made by --qat-generate-backward (one "
                "qat.gradient result per qat.trainable argument, and logits)";

    auto nameOf = [&](unsigned arg) {
      return gradientFunc.getArgAttrOfType<StringAttr>(arg, "qat.state");
    };
    for (unsigned arg : trainableArgs)
      if (!nameOf(arg))
        return gradientFunc.emitError()
               << "trainable argument #" << arg << " has no qat.state name";

    // Signature.
    SmallVector<Type> argTypes;
    SmallVector<DictionaryAttr> argAttrs;
    for (unsigned arg : stateArgs) {
      argTypes.push_back(gradientType.getInput(arg));
      argAttrs.push_back(gradientFunc.getArgAttrDict(arg));
    }
    Builder attrs(ctx);
    auto stateAttr = [&](StringRef name) {
      return attrs.getDictionaryAttr(
          attrs.getNamedAttr("qat.state", attrs.getStringAttr(name)));
    };
    SmallVector<std::string> momentumNames;
    for (unsigned arg : trainableArgs) {
      momentumNames.push_back(("sgd.momentum." + nameOf(arg).getValue()).str());
      auto type = cast<RankedTensorType>(gradientType.getInput(arg));
      if (failed(getOrCreateStateGlobal(module, momentumNames.back(), type,
                                        attrs.getF32FloatAttr(0.0f))))
        return failure();
      argTypes.push_back(type);
      argAttrs.push_back(stateAttr(momentumNames.back()));
    }
    for (unsigned arg : inputArgs) {
      argTypes.push_back(gradientType.getInput(arg));
      argAttrs.push_back(gradientFunc.getArgAttrDict(arg));
    }
    auto scalarType = RankedTensorType::get({}, attrs.getF32Type());
    argTypes.push_back(scalarType);
    argAttrs.push_back(attrs.getDictionaryAttr(
        attrs.getNamedAttr("qat.input", attrs.getStringAttr("learning_rate"))));

    OpBuilder top(ctx);
    top.setInsertionPointAfter(gradientFunc);
    auto step = func::FuncOp::create(top, loc, functionName,
                                     top.getFunctionType(argTypes, {}));
    Block *body = step.addEntryBlock();
    ImplicitLocOpBuilder b(loc, ctx);
    b.setInsertionPointToStart(body);

    // Call the gradient function with the step's arguments.
    SmallVector<Value> callArgs(gradientFunc.getNumArguments());
    unsigned position = 0;
    for (unsigned arg : stateArgs)
      callArgs[arg] = body->getArgument(position++);
    unsigned firstMomentum = position;
    position += trainableArgs.size();
    for (unsigned arg : inputArgs)
      callArgs[arg] = body->getArgument(position++);
    Value learningRate = body->getArgument(position);
    auto call = func::CallOp::create(b, gradientFunc, callArgs);

    SmallVector<Value> results{call.getResult(0),
                               call.getResult(*logitsResult)};
    SmallVector<DictionaryAttr> resultAttrs{
        gradientFunc.getResultAttrDict(0),
        gradientFunc.getResultAttrDict(*logitsResult)};
    for (unsigned result : stateResults) {
      results.push_back(call.getResult(result));
      resultAttrs.push_back(gradientFunc.getResultAttrDict(result));
    }

    SmallVector<Value> newMomentum;
    for (auto [index, arg] : llvm::enumerate(trainableArgs)) {
      Value parameter = callArgs[arg];
      Value gradient = call.getResult(gradientResults[index]);
      Value buffer = body->getArgument(firstMomentum + index);
      auto type = cast<RankedTensorType>(parameter.getType());
      int64_t rank = type.getRank();
      double decay = rank == 4
                         ? (isDepthwiseWeight(gradientFunc.getArgument(arg))
                                ? weightDecayDepthwise
                                : weightDecayConv)
                         : weightDecayOther;
      using namespace builders;
      Value direction = gradient;
      if (decay != 0.0)
        direction = add(b, loc, direction,
                        mul(b, loc, scalar(b, loc, decay, rank), parameter));
      Value momentumValue = scalar(b, loc, momentum, rank);
      Value updatedBuffer =
          add(b, loc, mul(b, loc, momentumValue, buffer), direction);
      direction = nesterov ? add(b, loc, direction,
                                 mul(b, loc, momentumValue, updatedBuffer))
                           : updatedBuffer;
      Value lr = reshape(b, loc, learningRate, SmallVector<int64_t>(rank, 1));
      Value updated = sub(b, loc, parameter, mul(b, loc, lr, direction));
      results.push_back(updated);
      resultAttrs.push_back(stateAttr(nameOf(arg).getValue()));
      newMomentum.push_back(updatedBuffer);
    }
    for (auto [value, name] : llvm::zip(newMomentum, momentumNames)) {
      results.push_back(value);
      resultAttrs.push_back(stateAttr(name));
    }
    func::ReturnOp::create(b, results);
    step.setFunctionType(
        top.getFunctionType(argTypes, ValueRange(results).getTypes()));
    for (auto [index, dict] : llvm::enumerate(argAttrs))
      if (dict)
        step.setArgAttrs(index, dict);
    for (auto [index, dict] : llvm::enumerate(resultAttrs))
      if (dict)
        step.setResultAttrs(index, dict);
    return success();
  }
};

} // namespace
