//===- Optimizer.cpp - SGD or Adam as a training step ----------*- C++ -*-===//
//
// Part of qat-mlir. The --qat-optimizer pass: wraps the loss-and-gradients
// function into a training step that updates the parameters and the
// optimizer's state (SGD's momentum, Adam's moments).
//
//===----------------------------------------------------------------------===//

#include "TrainStepUtils.h"
#include "qat/Dialect/Qat/Utils/StateGlobals.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"
#include "qat/Training/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

constexpr StringLiteral kAdamStep = "adam.step";

struct OptimizerPass : qat::impl::OptimizerPassBase<OptimizerPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto [name, value] :
         {std::pair<StringRef, double>{"momentum", momentum},
          {"epsilon", epsilon},
          {"weight-decay-depthwise", weightDecayDepthwise},
          {"weight-decay-conv", weightDecayConv},
          {"weight-decay-other", weightDecayOther}})
      if (!std::isfinite(value) || value < 0) {
        module.emitError() << "--qat-optimizer: " << name
                           << " must be finite and >= 0, not " << value;
        return signalPassFailure();
      }
    for (auto [name, value] :
         {std::pair<StringRef, double>{"beta1", beta1}, {"beta2", beta2}})
      if (!(value >= 0 && value < 1)) {
        module.emitError() << "--qat-optimizer: " << name
                           << " must be in [0, 1), not " << value;
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

  /// Adam's step size `lr / (1 - beta1^t)` and `sqrt(1 - beta2^t)`, each
  /// computed in f64 (C's pow, as Python's `**`) and rounded to f32 once,
  /// as PyTorch's Python scalars are when they meet f32 tensors.
  std::pair<Value, Value> adamScalars(ImplicitLocOpBuilder &b, Value stepCount,
                                      Value learningRate) {
    auto scalarType = RankedTensorType::get({}, b.getF32Type());
    SmallVector<Value> outputs;
    for (int i = 0; i < 2; ++i)
      outputs.push_back(
          tensor::EmptyOp::create(b, ArrayRef<int64_t>{}, b.getF32Type()));
    auto map = AffineMap::get(0, 0, b.getContext());
    auto generic = linalg::GenericOp::create(
        b, TypeRange{scalarType, scalarType},
        ValueRange{stepCount, learningRate}, outputs,
        SmallVector<AffineMap>(4, map), ArrayRef<utils::IteratorType>{},
        [&](OpBuilder &nested, Location loc, ValueRange args) {
          ImplicitLocOpBuilder n(loc, nested);
          Type f64 = n.getF64Type();
          Value t = arith::SIToFPOp::create(n, f64, args[0]);
          auto constant = [&](double value) {
            return arith::ConstantOp::create(n, n.getF64FloatAttr(value));
          };
          Value one = constant(1.0);
          Value correction1 = arith::SubFOp::create(
              n, one, math::PowFOp::create(n, constant(beta1), t));
          Value correction2 = arith::SubFOp::create(
              n, one, math::PowFOp::create(n, constant(beta2), t));
          Value lr = arith::ExtFOp::create(n, f64, args[1]);
          Value size = arith::DivFOp::create(n, lr, correction1);
          Value root = math::SqrtOp::create(n, correction2);
          linalg::YieldOp::create(
              n, ValueRange{arith::TruncFOp::create(n, n.getF32Type(), size),
                            arith::TruncFOp::create(n, n.getF32Type(), root)});
        });
    return {generic.getResult(0), generic.getResult(1)};
  }

  /// One Adam update of a parameter as one elementwise kernel, in
  /// torch.optim.Adam's order of f32 operations. Results: the parameter,
  /// the first and the second moment.
  linalg::GenericOp adamStep(ImplicitLocOpBuilder &b, Value parameter,
                             Value gradient, Value expAvg, Value expAvgSq,
                             Value stepSize, Value correction2Root,
                             double decay) {
    auto type = cast<RankedTensorType>(parameter.getType());
    int64_t rank = type.getRank();
    auto identity = b.getMultiDimIdentityMap(rank);
    auto scalarMap = AffineMap::get(rank, 0, b.getContext());
    SmallVector<AffineMap> maps{identity, identity,  identity,
                                identity, scalarMap, scalarMap};
    maps.append(3, identity);
    SmallVector<Value> outputs;
    for (int i = 0; i < 3; ++i)
      outputs.push_back(
          tensor::EmptyOp::create(b, type.getShape(), type.getElementType()));
    return linalg::GenericOp::create(
        b, TypeRange{type, type, type},
        ValueRange{parameter, gradient, expAvg, expAvgSq, stepSize,
                   correction2Root},
        outputs, maps,
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &nested, Location loc, ValueRange args) {
          ImplicitLocOpBuilder n(loc, nested);
          auto constant = [&](double value) {
            return arith::ConstantOp::create(
                n, n.getF32FloatAttr(static_cast<float>(value)));
          };
          Value p = args[0], d = args[1], m = args[2], v = args[3];
          if (decay != 0.0)
            d = arith::AddFOp::create(
                n, d, arith::MulFOp::create(n, constant(decay), p));
          Value newM = arith::AddFOp::create(
              n, arith::MulFOp::create(n, m, constant(beta1)),
              arith::MulFOp::create(n, constant(1.0 - beta1), d));
          Value newV = arith::AddFOp::create(
              n, arith::MulFOp::create(n, v, constant(beta2)),
              arith::MulFOp::create(
                  n, arith::MulFOp::create(n, constant(1.0 - beta2), d), d));
          Value denominator = arith::AddFOp::create(
              n,
              arith::DivFOp::create(n, math::SqrtOp::create(n, newV), args[5]),
              constant(epsilon));
          Value newP = arith::SubFOp::create(
              n, p,
              arith::DivFOp::create(n, arith::MulFOp::create(n, args[4], newM),
                                    denominator));
          linalg::YieldOp::create(n, ValueRange{newP, newM, newV});
        });
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
    // Results: the loss, the model's outputs (logits), state, gradients.
    SmallVector<unsigned> gradientResults, stateResults, outputResults;
    for (unsigned i = 1; i < gradientFunc.getNumResults(); ++i) {
      if (gradientFunc.getResultAttr(i, "qat.gradient"))
        gradientResults.push_back(i);
      else if (gradientFunc.getResultAttr(i, "qat.state"))
        stateResults.push_back(i);
      else
        outputResults.push_back(i);
    }
    auto loss =
        gradientFunc.getNumResults()
            ? gradientFunc.getResultAttrOfType<StringAttr>(0, "qat.output")
            : StringAttr();
    if (gradientResults.size() != trainableArgs.size() || !loss ||
        loss.getValue() != "loss")
      return gradientFunc.emitError()
             << "is not a function made by --qat-generate-backward (the "
                "loss, and one qat.gradient result per qat.trainable "
                "argument)";

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
    // The optimizer's state: per-parameter buffers, one kind after the
    // other, then (Adam) the step count.
    bool adam = algorithm == OptimizerAlgorithm::adam;
    SmallVector<StringRef> bufferKinds =
        adam ? SmallVector<StringRef>{"adam.exp_avg", "adam.exp_avg_sq"}
             : SmallVector<StringRef>{"sgd.momentum"};
    SmallVector<std::string> bufferNames;
    for (StringRef kind : bufferKinds)
      for (unsigned arg : trainableArgs) {
        bufferNames.push_back((kind + "." + nameOf(arg).getValue()).str());
        auto type = cast<RankedTensorType>(gradientType.getInput(arg));
        if (failed(getOrCreateStateGlobal(module, bufferNames.back(), type,
                                          attrs.getF32FloatAttr(0.0f))))
          return failure();
        argTypes.push_back(type);
        argAttrs.push_back(stateAttr(bufferNames.back()));
      }
    auto stepCountType = RankedTensorType::get({}, attrs.getI64Type());
    if (adam) {
      if (failed(getOrCreateStateGlobal(module, kAdamStep, stepCountType,
                                        attrs.getI64IntegerAttr(0))))
        return failure();
      argTypes.push_back(stepCountType);
      argAttrs.push_back(stateAttr(kAdamStep));
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
    ValueRange buffers =
        body->getArguments().slice(position, bufferNames.size());
    position += bufferNames.size();
    Value stepCount = adam ? body->getArgument(position++) : Value();
    for (unsigned arg : inputArgs)
      callArgs[arg] = body->getArgument(position++);
    Value learningRate = body->getArgument(position);
    auto call = func::CallOp::create(b, gradientFunc, callArgs);

    SmallVector<Value> results{call.getResult(0)};
    SmallVector<DictionaryAttr> resultAttrs{gradientFunc.getResultAttrDict(0)};
    for (unsigned result : outputResults) {
      results.push_back(call.getResult(result));
      resultAttrs.push_back(gradientFunc.getResultAttrDict(result));
    }
    for (unsigned result : stateResults) {
      results.push_back(call.getResult(result));
      resultAttrs.push_back(gradientFunc.getResultAttrDict(result));
    }

    Value newStepCount, stepSize, correction2Root;
    if (adam) {
      newStepCount = arith::AddIOp::create(
          b, stepCount,
          arith::ConstantOp::create(
              b, DenseElementsAttr::get(stepCountType, int64_t(1))));
      std::tie(stepSize, correction2Root) =
          adamScalars(b, newStepCount, learningRate);
    }
    size_t count = trainableArgs.size();
    SmallVector<Value> newBuffers(bufferNames.size());
    for (auto [index, arg] : llvm::enumerate(trainableArgs)) {
      Value parameter = callArgs[arg];
      Value gradient = call.getResult(gradientResults[index]);
      auto type = cast<RankedTensorType>(parameter.getType());
      int64_t rank = type.getRank();
      double decay = rank == 4
                         ? (isDepthwiseWeight(gradientFunc.getArgument(arg))
                                ? weightDecayDepthwise
                                : weightDecayConv)
                         : weightDecayOther;
      Value updated;
      if (adam) {
        auto adamUpdate =
            adamStep(b, parameter, gradient, buffers[index],
                     buffers[count + index], stepSize, correction2Root, decay);
        updated = adamUpdate.getResult(0);
        newBuffers[index] = adamUpdate.getResult(1);
        newBuffers[count + index] = adamUpdate.getResult(2);
      } else {
        using namespace builders;
        Value direction = gradient;
        if (decay != 0.0)
          direction = add(b, loc, direction,
                          mul(b, loc, scalar(b, loc, decay, rank), parameter));
        Value momentumValue = scalar(b, loc, momentum, rank);
        Value updatedBuffer =
            add(b, loc, mul(b, loc, momentumValue, buffers[index]), direction);
        direction = nesterov ? add(b, loc, direction,
                                   mul(b, loc, momentumValue, updatedBuffer))
                             : updatedBuffer;
        Value lr = reshape(b, loc, learningRate, SmallVector<int64_t>(rank, 1));
        updated = sub(b, loc, parameter, mul(b, loc, lr, direction));
        newBuffers[index] = updatedBuffer;
      }
      results.push_back(updated);
      resultAttrs.push_back(stateAttr(nameOf(arg).getValue()));
    }
    for (auto [value, name] : llvm::zip_equal(newBuffers, bufferNames)) {
      results.push_back(value);
      resultAttrs.push_back(stateAttr(name));
    }
    if (adam) {
      results.push_back(newStepCount);
      resultAttrs.push_back(stateAttr(kAdamStep));
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
