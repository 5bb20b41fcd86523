//===- FoldBatchNorm.cpp - fold batch norm into the layer before it -------===//
//
// Part of qat-mlir.
//
// --qat-fold-batchnorm: evaluation-mode batch norm after a convolution or
// linear layer becomes part of the layer's weight and bias, for deployment.
// Upstream folds constants only; this rewrites the graph on parameters
// (function arguments), so it works before the trained values are known.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"
#include "qat/Dialect/Qat/Utils/LayerUtils.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::qat {
#define GEN_PASS_DEF_FOLDBATCHNORMPASS
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;

namespace {

/// The ops between a layer and the batch norm after it.
struct Chain {
  Operation *layer = nullptr;
  Value output;                  // the layer's output (layerOutput)
  Operation *division = nullptr; // QAT ConvBn form: layer [+ 0] * 1/factor
  tosa::AddOp biasAdd;
  Value bias; // the [C] bias vector, if any
};

/// Whether `value` is all zeros: a zero splat constant or a fill with 0,
/// possibly reshaped (PyTorch's `torch.zeros_like(bias)` as imported).
bool isZeros(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (isa<tosa::ReshapeOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp>(
            def)) {
      value = def->getOperand(0);
      continue;
    }
    if (auto fill = dyn_cast<linalg::FillOp>(def))
      return matchPattern(fill.value(), m_AnyZeroFloat());
    return matchPattern(value, m_AnyZeroFloat());
  }
  return false;
}

/// Walks back from the batch norm's input: [bias add] <- [QAT ConvBn
/// division [<- zero-bias add]] <- [matmul reshape] <- layer. Every value
/// has one use.
std::optional<Chain> matchChain(BatchNormOp batchNorm) {
  Chain chain;
  Value value = batchNorm.getInput();
  auto singleUse = [](Value v) { return v.hasOneUse(); };
  if (auto add = value.getDefiningOp<tosa::AddOp>()) {
    for (auto [self, other] : {std::pair{add.getInput1(), add.getInput2()},
                               std::pair{add.getInput2(), add.getInput1()}})
      if (BlockArgument bias = stateArgumentOf(other);
          bias && cast<RankedTensorType>(bias.getType()).getRank() == 1 &&
          singleUse(self)) {
        chain.biasAdd = add;
        chain.bias = bias;
        value = self;
        break;
      }
  }
  if (auto mul = value.getDefiningOp<tosa::MulOp>()) {
    // conv * reciprocal(reshape(factor)) of PyTorch's QAT ConvBn form.
    auto reciprocal = mul.getInput2().getDefiningOp<tosa::ReciprocalOp>();
    if (!reciprocal || !singleUse(mul.getInput1()))
      return std::nullopt;
    chain.division = mul;
    value = mul.getInput1();
    // PyTorch's QAT ConvBn passes the convolution a zero bias
    // (`conv(x, w * factor, zeros) / factor`): a no-op to look through.
    if (auto add = value.getDefiningOp<tosa::AddOp>();
        add && isZeros(add.getInput2()) && singleUse(add.getInput1()))
      value = add.getInput1(); // erased with the division
  }
  Operation *def = value.getDefiningOp();
  if (def && isa<tosa::ReshapeOp, tensor::CollapseShapeOp>(def))
    if (Operation *inner = def->getOperand(0).getDefiningOp();
        inner && isLayerOp(inner) && layerOutput(inner) == value)
      def = inner;
  if (!def || !isLayerOp(def) || layerOutput(def) != value ||
      !value.hasOneUse())
    return std::nullopt;
  chain.layer = def;
  chain.output = value;
  return chain;
}

struct FoldBatchNormPass : qat::impl::FoldBatchNormPassBase<FoldBatchNormPass> {
  void runOnOperation() override {
    SmallVector<BatchNormOp> batchNorms;
    getOperation()->walk([&](BatchNormOp op) {
      if (!op.getTraining())
        batchNorms.push_back(op);
    });
    for (BatchNormOp batchNorm : batchNorms) {
      std::optional<Chain> chain = matchChain(batchNorm);
      if (!chain)
        continue; // A batch norm on its own stays a scale and shift.
      fold(batchNorm, *chain);
    }
  }

  /// y = (z - mean) * g + beta with g = gamma * rsqrt(var + eps), z the
  /// layer's output plus bias. Plain layer: weight * g, bias (b - mean) * g
  /// + beta. QAT ConvBn form: its weight is already weight * gamma /
  /// sqrt(var + eps) (fake-quantized), so the division by that factor and
  /// the batch norm become the bias (b - mean) * g + beta, as PyTorch's
  /// convert does.
  void fold(BatchNormOp batchNorm, Chain &chain) {
    // Everything from parameters goes before the layer, where the weight
    // needs it.
    OpOperand &use = weightUse(chain.layer);
    OpBuilder b(use.getOwner());
    Location loc = batchNorm.getLoc();
    auto channelType = cast<RankedTensorType>(batchNorm.getWeight().getType());
    auto epsType = RankedTensorType::get({1}, b.getF32Type());
    Value eps = tosa::ConstOp::create(
        b, loc, epsType,
        DenseElementsAttr::get(epsType,
                               batchNorm.getEpsilon().convertToFloat()));
    Value invStd = tosa::RsqrtOp::create(
        b, loc, channelType, add(b, loc, batchNorm.getRunningVar(), eps));
    Value factor = mul(b, loc, batchNorm.getWeight(), invStd);
    Value layerBias =
        chain.bias
            ? chain.bias
            : tosa::ConstOp::create(b, loc, channelType,
                                    DenseElementsAttr::get(channelType, 0.0f));
    Value centered = sub(b, loc, layerBias, batchNorm.getRunningMean());
    Value bias =
        add(b, loc, mul(b, loc, centered, factor), batchNorm.getBias());

    if (!chain.division) {
      // Scale the weight's output channels where it enters the layer.
      Value weight = use.get();
      SmallVector<int64_t> shape(typeOf(weight).getRank(), 1);
      shape[weightOutputAxis(chain.layer)] = channelType.getDimSize(0);
      use.set(mul(b, loc, weight, reshape(b, loc, factor, shape)));
    }
    b.setInsertionPoint(batchNorm);
    Value output = chain.output;
    Value result = add(b, loc, output,
                       channelVector(b, loc, bias, typeOf(output).getRank()));
    batchNorm.replaceAllUsesWith(ValueRange{result, batchNorm.getRunningMean(),
                                            batchNorm.getRunningVar()});
    batchNorm.erase();
    if (chain.biasAdd)
      chain.biasAdd.erase();
    if (chain.division)
      eraseDeadFrom(chain.division); // and the zero-bias add before it
  }

  /// Erases `op` and then whatever only it used (the factor's reciprocal
  /// and reshape of the QAT form).
  static void eraseDeadFrom(Operation *op) {
    SmallVector<Operation *> worklist{op};
    while (!worklist.empty()) {
      Operation *next = worklist.pop_back_val();
      if (!next->use_empty() || !isPure(next))
        continue;
      for (Value operand : next->getOperands())
        if (Operation *def = operand.getDefiningOp())
          worklist.push_back(def);
      next->erase();
    }
  }
};

} // namespace
