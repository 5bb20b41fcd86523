//===- FoldQuant.cpp - the fake-quant graph as an integer program ---------===//
//
// Part of qat-mlir.
//
// --qat-fold-quant: from a prepared model's evaluation function, the integer
// program that deployment compiles. Layers and residual additions use
// IntegerForms' arithmetic, the same that --qat-target-exact trains with.
//
//===----------------------------------------------------------------------===//

#include "IntegerForms.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"
#include "qat/Dialect/Qat/Utils/ModulePath.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"

#include <climits>

namespace mlir::qat {
#define GEN_PASS_DEF_FOLDQUANTPASS
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;

namespace {

/// quantize(movers(dequantize(c))) on the same scale and zero-point is the
/// codes c moved: replaces such a quantize by integer ops.
void foldRequantizedCodes(QuantizeOp quantize) {
  if (quantize.getAxis())
    return;
  SmallVector<Operation *> movers;
  Value value = quantize.getInput();
  while (Operation *def = value.getDefiningOp()) {
    if (auto dequantize = dyn_cast<DequantizeOp>(def)) {
      if (dequantize.getAxis() ||
          dequantize.getScale() != quantize.getScale() ||
          dequantize.getZeroPoint() != quantize.getZeroPoint())
        return;
      OpBuilder b(quantize);
      Value codes = dequantize.getInput();
      for (Operation *op : llvm::reverse(movers))
        codes = moveCodes(b, op, codes, quantize.getZeroPoint(),
                          quantize.getQuantMin());
      quantize.replaceAllUsesWith(codes);
      quantize.erase();
      return;
    }
    if (!movesCodes(def))
      return;
    movers.push_back(def);
    value = def->getOperand(0);
  }
}

/// The ops of `function` that depend on a model input (an argument that is
/// not `qat.state`), in program order.
SmallVector<Operation *> opsFromInput(func::FuncOp function) {
  llvm::DenseSet<Value> fromInput;
  for (BlockArgument argument : function.getArguments())
    if (!function.getArgAttr(argument.getArgNumber(), "qat.state"))
      fromInput.insert(argument);
  SmallVector<Operation *> ops;
  for (Operation &op : function.getBody().front().without_terminator()) {
    if (llvm::none_of(op.getOperands(),
                      [&](Value v) { return fromInput.contains(v); }))
      continue;
    fromInput.insert(op.getResults().begin(), op.getResults().end());
    ops.push_back(&op);
  }
  return ops;
}

bool hasFloatResult(Operation *op) {
  return llvm::any_of(op->getResultTypes(), [](Type type) {
    return isa<FloatType>(getElementTypeOrSelf(type));
  });
}

struct FoldQuantPass : qat::impl::FoldQuantPassBase<FoldQuantPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto source = module.lookupSymbol<func::FuncOp>(function);
    if (!source) {
      module.emitError("--qat-fold-quant: no function '") << function << "'";
      return signalPassFailure();
    }
    std::string name = function + "_int8";
    if (module.lookupSymbol(name)) {
      source.emitError("--qat-fold-quant: '")
          << name << "' exists already (the module was folded before)";
      return signalPassFailure();
    }
    bool quantizesAnything = false;
    source.walk([&](FakeQuantOp) { quantizesAnything = true; });
    if (!quantizesAnything) {
      source.emitError("--qat-fold-quant: '")
          << function
          << "' quantizes nothing: a model not prepared for QAT, or with all "
             "its fake quantization disabled (qat-compile --keep-float "
             "compiles it in float)";
      return signalPassFailure();
    }
    func::FuncOp folded = cloneWithoutStateResults(source, name);
    freezeObservers(folded);

    // The integer form of every quantized computation (a model trained
    // target-exact has them already); then only the integers stay.
    makeTargetExact(folded);
    folded.walk([&](StraightThroughOp straight) {
      straight.replaceAllUsesWith(straight.getValue());
      straight.erase();
    });
    // What remains of fake quantization on the way (the input's) is
    // dequantize(quantize(x)), the same bits by the ops' definitions.
    IRRewriter rewriter(&getContext());
    (void)runRegionDCE(rewriter, folded.getBody());
    folded.walk([&](FakeQuantOp quant) {
      OpBuilder b(quant);
      Location loc = quant.getLoc();
      Value codes = QuantizeOp::create(
          b, loc, typeOf(quant.getInput()).clone(b.getI32Type()),
          quant.getInput(), quant.getScale(), quant.getZeroPoint(),
          quant.getStorageTypeAttr(), quant.getQuantMinAttr(),
          quant.getQuantMaxAttr(), quant.getAxisAttr());
      quant.getResult().replaceAllUsesWith(
          DequantizeOp::create(b, loc, quant.getType(), codes, quant.getScale(),
                               quant.getZeroPoint(), quant.getAxisAttr()));
      quant.erase();
    });
    SmallVector<QuantizeOp> quantizes;
    folded.walk([&](QuantizeOp quantize) { quantizes.push_back(quantize); });
    for (QuantizeOp quantize : quantizes)
      foldRequantizedCodes(quantize);
    (void)runRegionDCE(rewriter, folded.getBody());
    if (failed(checkInteger(folded)))
      return signalPassFailure();
  }

  /// Observers still running in an evaluation function (PyTorch's
  /// `.eval()` leaves FakeQuantize observing) keep the ranges they have:
  /// the deployed program uses the trained state, like PyTorch after
  /// `disable_observer`.
  static void freezeObservers(func::FuncOp function) {
    auto freeze = [](Operation *observer, Value min, Value max) {
      observer->getResult(0).replaceAllUsesWith(min);
      observer->getResult(1).replaceAllUsesWith(max);
      observer->erase();
    };
    function.walk([&](Operation *op) {
      if (auto observer = dyn_cast<ObserveMinMaxOp>(op))
        freeze(op, observer.getMin(), observer.getMax());
      else if (auto observer = dyn_cast<ObserveMovingAverageMinMaxOp>(op))
        freeze(op, observer.getMin(), observer.getMax());
    });
  }

  /// A copy of `source` named `name` after it, returning only the results
  /// that are not model state.
  func::FuncOp cloneWithoutStateResults(func::FuncOp source, StringRef name) {
    OpBuilder b(source);
    b.setInsertionPointAfter(source);
    auto copy = cast<func::FuncOp>(b.clone(*source));
    copy.setSymName(name);
    auto ret = cast<func::ReturnOp>(copy.getBody().front().getTerminator());
    SmallVector<Value> kept;
    SmallVector<Type> keptTypes;
    SmallVector<DictionaryAttr> keptAttrs;
    for (auto [index, value] : llvm::enumerate(ret.getOperands())) {
      if (copy.getResultAttr(index, "qat.state"))
        continue;
      kept.push_back(value);
      keptTypes.push_back(value.getType());
      keptAttrs.push_back(copy.getResultAttrDict(index));
    }
    b.setInsertionPoint(ret);
    func::ReturnOp::create(b, ret.getLoc(), kept);
    ret.erase();
    copy.setFunctionType(b.getFunctionType(copy.getArgumentTypes(), keptTypes));
    copy.setAllResultAttrs(keptAttrs);
    return copy;
  }

  /// Every op that depends on a model input computes in integers, except
  /// the dequantization of the outputs; or, with allow-float, a remark at
  /// the first op that computes in float, counting them all.
  LogicalResult checkInteger(func::FuncOp folded) {
    if (!allowFloat)
      return checkAllInteger(folded);
    llvm::MapVector<OperationName, unsigned> counts;
    Operation *first = nullptr;
    for (Operation *op : opsFromInput(folded)) {
      // Dequantized codes are the inputs of the float ops counted here.
      if (!hasFloatResult(op) || isa<DequantizeOp>(op))
        continue;
      ++counts[op->getName()];
      if (!first)
        first = op;
    }
    if (counts.empty())
      return success();
    unsigned total = 0;
    std::string list;
    llvm::raw_string_ostream os(list);
    llvm::interleaveComma(counts, os, [&](const auto &entry) {
      total += entry.second;
      os << entry.second << " " << entry.first;
    });
    first->emitRemark("--qat-fold-quant: ")
        << total << (total == 1 ? " op computes" : " ops compute")
        << " in float between quantized values (" << list
        << "); the first is here" << inModuleSuffix(first->getLoc());
    return success();
  }

  LogicalResult checkAllInteger(func::FuncOp folded) {
    for (Operation *op : opsFromInput(folded)) {
      // Dequantized values are checked where they are used.
      if (isa<DequantizeOp>(op))
        continue;
      if (auto quantize = dyn_cast<QuantizeOp>(op)) {
        if (isa<BlockArgument>(quantize.getInput()))
          continue;
        return op->emitError("--qat-fold-quant: 'qat.quantize'")
               << inModuleSuffix(op->getLoc())
               << " requantizes through float: its input is not the codes "
                  "of the same scale and zero-point moved by padding, max "
                  "pooling, reshapes, transposes or slices";
      }
      if (!hasFloatResult(op))
        continue;
      InFlightDiagnostic diag = op->emitError("--qat-fold-quant: '")
                                << op->getName() << "'"
                                << inModuleSuffix(op->getLoc()) << " ";
      if (isa<linalg::Conv2DNchwFchwOp, tosa::MatMulOp>(op))
        diag << "is a layer whose input, weight or output is not "
                "fake-quantized; its quantization parameters are missing";
      else
        diag << "computes in float on the way from the input to the "
                "outputs and has no integer form";
      return failure();
    }
    return success();
  }
};

} // namespace
