//===- GenerateBackward.cpp - reverse-mode differentiation ------*- C++ -*-===//
//
// Part of qat-mlir. The --qat-generate-backward pass: forward + loss ->
// loss and gradients, by asking each op for its vector-Jacobian product.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/IR/QatInterfaces.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Training/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/DenseSet.h"

namespace mlir::qat {
#define GEN_PASS_DEF_GENERATEBACKWARDPASS
#include "qat/Training/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

bool isFloatTensor(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && isa<FloatType>(type.getElementType());
}

bool isDifferentiableOperand(Operation *op, unsigned index) {
  if (auto differentiable = dyn_cast<DifferentiableOpInterface>(op))
    return differentiable.isDifferentiableOperand(index);
  return isFloatTensor(op->getOperand(index));
}

/// The values whose gradient is needed: those that depend on a trainable
/// argument (forward sweep) and reach the loss through differentiable
/// operands (backward sweep).
llvm::DenseSet<Value> activeValues(Block &body, ArrayRef<Value> trainable,
                                   Value loss) {
  llvm::DenseSet<Value> varied(trainable.begin(), trainable.end());
  for (Operation &op : body.without_terminator()) {
    bool depends = llvm::any_of(op.getOpOperands(), [&](OpOperand &operand) {
      return varied.contains(operand.get()) &&
             isDifferentiableOperand(&op, operand.getOperandNumber());
    });
    if (depends)
      for (Value result : op.getResults())
        if (isFloatTensor(result))
          varied.insert(result);
  }
  llvm::DenseSet<Value> useful{loss};
  for (Operation &op : llvm::reverse(body.without_terminator())) {
    if (llvm::none_of(op.getResults(),
                      [&](Value result) { return useful.contains(result); }))
      continue;
    for (OpOperand &operand : op.getOpOperands())
      if (isDifferentiableOperand(&op, operand.getOperandNumber()))
        useful.insert(operand.get());
  }
  llvm::DenseSet<Value> active;
  for (Value value : varied)
    if (useful.contains(value))
      active.insert(value);
  return active;
}

struct GenerateBackwardPass
    : qat::impl::GenerateBackwardPassBase<GenerateBackwardPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>(forwardName);
    if (!forward || forward.isExternal()) {
      module.emitError() << "no function '" << forwardName
                         << "' with a body to differentiate";
      return signalPassFailure();
    }
    if (module.lookupSymbol(functionName)) {
      module.emitError() << "the module already has a symbol named '"
                         << functionName << "'";
      return signalPassFailure();
    }
    if (!llvm::hasSingleElement(forward.getBody())) {
      forward.emitError() << "can only differentiate a single-block function";
      return signalPassFailure();
    }
    FunctionType forwardType = forward.getFunctionType();
    if (logitsIndex >= forwardType.getNumResults()) {
      forward.emitError() << "has no result #"
                          << static_cast<unsigned>(logitsIndex)
                          << " to take the logits from";
      return signalPassFailure();
    }
    auto logitsType =
        dyn_cast<RankedTensorType>(forwardType.getResult(logitsIndex));
    bool isLoss = logitsType && logitsType.getRank() == 0 &&
                  logitsType.getElementType().isF32();
    // The trainer and the deployment find a model's loss in result #0.
    if (isLoss && logitsIndex != 0) {
      forward.emitError() << "a loss the forward returns must be its result "
                             "#0, not #"
                          << static_cast<unsigned>(logitsIndex);
      return signalPassFailure();
    }
    if (!isLoss && (!logitsType || logitsType.getRank() != 2 ||
                    !logitsType.getElementType().isF32() ||
                    !logitsType.hasStaticShape())) {
      forward.emitError() << "result #" << static_cast<unsigned>(logitsIndex)
                          << " must be static f32 logits of shape N x C, or "
                             "a 0-d f32 loss, got "
                          << forwardType.getResult(logitsIndex);
      return signalPassFailure();
    }
    if (failed(generate(module, forward, logitsType)))
      return signalPassFailure();
  }

  LogicalResult generate(ModuleOp module, func::FuncOp forward,
                         RankedTensorType logitsType) {
    MLIRContext *ctx = &getContext();
    OpBuilder builder(ctx);
    Location loc = forward.getLoc();
    FunctionType forwardType = forward.getFunctionType();

    // Signature: forward's arguments, + labels unless forward returns its
    // loss (its targets are then among its inputs).
    bool isLoss = logitsType.getRank() == 0;
    SmallVector<Type> argTypes(forwardType.getInputs());
    if (!isLoss)
      argTypes.push_back(RankedTensorType::get({logitsType.getDimSize(0)},
                                               builder.getI64Type()));
    builder.setInsertionPointAfter(forward);
    auto func = func::FuncOp::create(builder, loc, functionName,
                                     builder.getFunctionType(argTypes, {}));
    Block *body = func.addEntryBlock();
    builder.setInsertionPointToStart(body);

    // The forward body, inlined.
    IRMapping mapping;
    for (auto [from, to] :
         llvm::zip(forward.getArguments(), body->getArguments()))
      mapping.map(from, to);
    Block &forwardBody = forward.getBody().front();
    for (Operation &op : forwardBody.without_terminator())
      builder.clone(op, mapping);
    SmallVector<Value> forwardResults;
    for (Value result : forwardBody.getTerminator()->getOperands())
      forwardResults.push_back(mapping.lookupOrDefault(result));
    Value loss = forwardResults[logitsIndex];
    if (!isLoss)
      loss = SoftmaxCrossEntropyOp::create(
          builder, loc, RankedTensorType::get({}, builder.getF32Type()), loss,
          body->getArguments().back());

    // Trainable arguments.
    SmallVector<unsigned> trainableIndices;
    SmallVector<Value> trainable;
    for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
      if (!forward.getArgAttr(i, "qat.trainable"))
        continue;
      if (!isFloatTensor(body->getArgument(i)))
        return forward.emitError()
               << "trainable argument #" << i << " is not a float tensor";
      trainableIndices.push_back(i);
      trainable.push_back(body->getArgument(i));
    }
    if (trainable.empty())
      return forward.emitError()
             << "has no argument marked qat.trainable to differentiate by";

    // Reverse sweep.
    llvm::DenseSet<Value> active = activeValues(*body, trainable, loss);
    llvm::DenseMap<Value, Value> gradients;
    auto accumulate = [&](Value value, Value gradient) {
      auto [it, inserted] = gradients.try_emplace(value, gradient);
      if (!inserted)
        it->second = tosa::AddOp::create(builder, gradient.getLoc(),
                                         value.getType(), it->second, gradient);
    };
    auto scalarType = RankedTensorType::get({}, builder.getF32Type());
    Value seed = arith::ConstantOp::create(
        builder, loc, DenseElementsAttr::get(scalarType, 1.0f));
    gradients[loss] = seed;

    SmallVector<Operation *> forwardOps;
    for (Operation &op : *body)
      forwardOps.push_back(&op);
    for (Operation *op : llvm::reverse(forwardOps)) {
      if (op == seed.getDefiningOp())
        continue;
      SmallVector<Value> resultGradients;
      bool anyResult = false;
      for (Value result : op->getResults()) {
        Value gradient = active.contains(result) || result == loss
                             ? gradients.lookup(result)
                             : Value();
        resultGradients.push_back(gradient);
        anyResult |= static_cast<bool>(gradient);
      }
      bool anyOperand = llvm::any_of(op->getOpOperands(), [&](OpOperand &o) {
        return active.contains(o.get()) &&
               isDifferentiableOperand(op, o.getOperandNumber());
      });
      if (!anyResult || !anyOperand)
        continue;
      auto differentiable = dyn_cast<DifferentiableOpInterface>(op);
      if (!differentiable)
        return op->emitOpError()
               << "has no gradient rule (DifferentiableOpInterface), but a "
                  "trainable parameter reaches the loss through it";
      SmallVector<Value> operandGradients(op->getNumOperands());
      if (failed(differentiable.buildGradients(builder, resultGradients,
                                               operandGradients)))
        return failure();
      for (OpOperand &operand : op->getOpOperands()) {
        Value gradient = operandGradients[operand.getOperandNumber()];
        if (!gradient || !active.contains(operand.get()))
          continue;
        if (gradient.getType() != operand.get().getType())
          return op->emitOpError()
                 << "gradient rule gave " << gradient.getType()
                 << " for operand #" << operand.getOperandNumber() << " of "
                 << operand.get().getType();
        accumulate(operand.get(), gradient);
      }
    }

    // Results: loss, forward's results (but the loss), gradients.
    SmallVector<Value> results{loss};
    for (auto [index, value] : llvm::enumerate(forwardResults))
      if (!isLoss || index != logitsIndex)
        results.push_back(value);
    for (Value parameter : trainable) {
      Value gradient = gradients.lookup(parameter);
      if (!gradient) { // the parameter does not reach the loss
        auto type = cast<RankedTensorType>(parameter.getType());
        gradient = arith::ConstantOp::create(
            builder, loc, DenseElementsAttr::get(type, 0.0f));
      }
      results.push_back(gradient);
    }
    func::ReturnOp::create(builder, loc, results);
    // Rules build the gradients of every operand; drop those nobody needs
    // (inputs, constants) right away.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*body)))
      if (isOpTriviallyDead(&op))
        op.erase();
    func.setFunctionType(
        builder.getFunctionType(argTypes, ValueRange(results).getTypes()));

    // Names.
    for (unsigned i = 0; i < forward.getNumArguments(); ++i)
      if (DictionaryAttr attrs = forward.getArgAttrDict(i))
        func.setArgAttrs(i, attrs);
    if (!isLoss)
      func.setArgAttr(func.getNumArguments() - 1, "qat.input",
                      builder.getStringAttr("labels"));
    func.setResultAttr(0, "qat.output", builder.getStringAttr("loss"));
    // Forward's other results: its state updates keep their names; its
    // outputs are named "logits" (classifiers) or "output<i>".
    unsigned position = 1;
    for (unsigned i = 0; i < forward.getNumResults(); ++i) {
      if (isLoss && i == logitsIndex)
        continue;
      if (DictionaryAttr attrs = forward.getResultAttrDict(i))
        func.setResultAttrs(position, attrs);
      if (!func.getResultAttr(position, "qat.state"))
        func.setResultAttr(
            position, "qat.output",
            builder.getStringAttr(!isLoss && i == logitsIndex
                                      ? std::string("logits")
                                      : "output" + std::to_string(i)));
      ++position;
    }
    unsigned firstGradient = position;
    for (auto [position, index] : llvm::enumerate(trainableIndices)) {
      Attribute name = forward.getArgAttr(index, "qat.state");
      func.setResultAttr(
          firstGradient + position, "qat.gradient",
          name ? name : builder.getStringAttr("arg" + std::to_string(index)));
    }
    return success();
  }
};

} // namespace
