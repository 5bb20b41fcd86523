//===- Prepare.cpp - insert fake quantization per a qconfig ---------------===//
//
// Part of qat-mlir.
//
// --qat-prepare: PyTorch's eager prepare_qat after fusion, on an imported
// fp32 graph. Upstream has no pass for it (tosa and quant describe real
// quantized types, not their simulation in training).
//
//===----------------------------------------------------------------------===//

#include "IntegerForms.h"

#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"
#include "qat/Dialect/Qat/Utils/LayerUtils.h"
#include "qat/Dialect/Qat/Utils/ModulePath.h"
#include "qat/Dialect/Qat/Utils/StateGlobals.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Tosa/Utils/ConversionUtils.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

namespace mlir::qat {
#define GEN_PASS_DEF_PREPAREPASS
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;

namespace {

/// One quantization grid of the qconfig.
struct Grid {
  QuantScheme scheme;
  IntegerType storage;
  int64_t qmin, qmax;
  bool perChannel;
};

/// A conv or linear layer and the ops after it that PyTorch fuses with it
/// (bias add, batch norm, ReLU/ReLU6 clamp). Its output is quantized after
/// the last of them.
struct Layer {
  Operation *op;         // the linalg convolution or tosa.matmul
  BlockArgument weight;  // the trainable weight it reads
  OpOperand *weightUse;  // where the weight enters the op's filter chain
  tosa::AddOp biasAdd;   // conv + bias, if any
  BatchNormOp batchNorm; // following batch norm, if any
  Value output;          // last value of the group
};

class Preparer {
public:
  Preparer(ModuleOp module, func::FuncOp function, const Grid &weights,
           const Grid &activations, float averaging, bool observe,
           bool freezeBatchNorm)
      : module(module), function(function), weights(weights),
        activations(activations), averaging(averaging), observe(observe),
        freezeBatchNorm(freezeBatchNorm), builder(module.getContext()) {}

  LogicalResult run();

  /// The state this function gained, for its callers: arguments (name,
  /// position) and results (name, value), appended in this order.
  SmallVector<std::pair<std::string, unsigned>> addedArguments;
  SmallVector<std::pair<std::string, Value>> addedResults;

private:
  StringRef stateName(BlockArgument arg) {
    auto name =
        function.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "qat.state");
    return name ? name.getValue() : StringRef();
  }
  FailureOr<Layer> matchLayer(Operation *op);
  Value fakeQuantize(Value value, StringRef prefix, const Grid &grid,
                     Location loc, int64_t channelAxis = 0);
  Value addStateArgument(StringRef name, RankedTensorType type, float initial);
  void addStateResult(StringRef name, Value value);
  void rewriteConvBatchNorm(Layer &layer, StringRef prefix);

  ModuleOp module;
  func::FuncOp function;
  Grid weights, activations;
  float averaging;
  bool observe, freezeBatchNorm;
  OpBuilder builder;
  unsigned firstInput = 0;
  /// The ops fakeQuantize made: they read the raw value.
  SmallPtrSet<Operation *, 32> quantizationOps;
  LogicalResult status = success();

  /// The loss of a model that returns it: the ops the importer made for
  /// PyTorch's loss functions (marked kLossAttr) and every op after them.
  /// They compute in float on raw values, as a PyTorch loss outside the
  /// prepared network does.
  DenseSet<Operation *> lossOps;

  /// Every use of `value` outside the quantization ops (and, for an
  /// input, outside the loss: raw targets) now reads `quantized`. A layer's
  /// output reaches the loss quantized, as through PyTorch's DeQuantStub.
  void useQuantized(Value value, Value quantized, bool rawInLoss = false) {
    value.replaceUsesWithIf(quantized, [&](OpOperand &use) {
      return !quantizationOps.contains(use.getOwner()) &&
             !(rawInLoss && lossOps.contains(use.getOwner()));
    });
  }
};

Value Preparer::addStateArgument(StringRef name, RankedTensorType type,
                                 float initial) {
  Attribute value = isa<FloatType>(type.getElementType())
                        ? Attribute(builder.getF32FloatAttr(initial))
                        : Attribute(builder.getI32IntegerAttr(initial));
  if (failed(getOrCreateStateGlobal(module, name, type, value)))
    status = failure();
  unsigned position = firstInput++;
  if (failed(function.insertArgument(
          position, type,
          builder.getDictionaryAttr(
              builder.getNamedAttr("qat.state", builder.getStringAttr(name))),
          function.getLoc())))
    status = failure();
  addedArguments.push_back({name.str(), position});
  return function.getArgument(position);
}

void Preparer::addStateResult(StringRef name, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  Attribute initial = isa<FloatType>(type.getElementType())
                          ? Attribute(builder.getF32FloatAttr(1.0f))
                          : Attribute(builder.getI32IntegerAttr(0));
  if (failed(getOrCreateStateGlobal(module, name, type, initial)))
    status = failure();
  addedResults.push_back({name.str(), value});
}

/// PyTorch's FusedMovingAvgObsFakeQuantize: observe into the running range,
/// derive scale and zero-point with the kernel's rule, fake-quantize. In an
/// evaluation function (`observe` false) the stored scale and zero-point
/// quantize and nothing is written.
Value Preparer::fakeQuantize(Value value, StringRef prefix, const Grid &grid,
                             Location loc, int64_t channelAxis) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> stateShape;
  if (grid.perChannel)
    stateShape.push_back(type.getDimSize(channelAxis));
  auto floatState = RankedTensorType::get(stateShape, builder.getF32Type());
  auto intState = RankedTensorType::get(stateShape, builder.getI32Type());
  std::string scaleName = (prefix + ".scale").str();
  std::string zeroPointName = (prefix + ".zero_point").str();
  IntegerAttr axis =
      grid.perChannel ? builder.getI64IntegerAttr(channelAxis) : nullptr;
  Value scale, zeroPoint;
  if (observe) {
    float inf = std::numeric_limits<float>::infinity();
    Value min = addStateArgument((prefix + ".min_val").str(), floatState, inf);
    Value max = addStateArgument((prefix + ".max_val").str(), floatState, -inf);
    auto observed = ObserveMovingAverageMinMaxOp::create(
        builder, loc, TypeRange{floatState, floatState}, value, min, max,
        builder.getF32FloatAttr(averaging), axis);
    auto qparams = ChooseQParamsOp::create(
        builder, loc, TypeRange{floatState, intState}, grid.scheme,
        observed.getNewMin(), observed.getNewMax(), grid.storage, grid.qmin,
        grid.qmax, llvm::APFloat(1.1920928955078125e-07f),
        QParamsRule::fake_quant_kernel);
    quantizationOps.insert(observed);
    quantizationOps.insert(qparams);
    scale = qparams.getScale();
    zeroPoint = qparams.getZeroPoint();
    addStateResult((prefix + ".min_val").str(), observed.getNewMin());
    addStateResult((prefix + ".max_val").str(), observed.getNewMax());
    addStateResult(scaleName, scale);
    addStateResult(zeroPointName, zeroPoint);
  } else {
    scale = addStateArgument(scaleName, floatState, 1.0f);
    zeroPoint = addStateArgument(zeroPointName, intState, 0.0f);
  }
  auto quantized = FakeQuantOp::create(
      builder, loc, type, value, scale, zeroPoint, TypeAttr::get(grid.storage),
      builder.getI64IntegerAttr(grid.qmin),
      builder.getI64IntegerAttr(grid.qmax), axis);
  quantizationOps.insert(quantized);
  return quantized;
}

FailureOr<Layer> Preparer::matchLayer(Operation *op) {
  Layer layer{op, {}, nullptr, {}, {}, Value()};
  // The weight: the filter of a convolution, the right-hand side of the
  // linear layer's matmul, seen through the importer's reshapes.
  layer.weightUse = &weightUse(op);
  // A frozen weight (a parameter PyTorch does not train, such as a GAN's
  // discriminator inside the generator's loss) is quantized as a trained
  // one.
  auto arg = dyn_cast<BlockArgument>(layer.weightUse->get());
  if (!arg || arg.getOwner()->getParentOp() != function ||
      !function.getArgAttr(arg.getArgNumber(), "qat.state"))
    return op->emitError("qat-prepare: the weight of this layer is not a "
                         "parameter of '")
           << function.getSymName() << "'; cannot quantize it";
  layer.weight = arg;
  // The ops fused with it, each the single user of the previous value.
  Value current = layerOutput(op);
  if (auto add = dyn_cast_or_null<tosa::AddOp>(singleUser(current))) {
    Value other =
        add.getInput1() == current ? add.getInput2() : add.getInput1();
    if (stateArgumentOf(other)) {
      layer.biasAdd = add;
      current = add.getResult();
    }
  }
  if (!isa<tosa::MatMulOp>(op))
    if (auto batchNorm = dyn_cast_or_null<BatchNormOp>(singleUser(current)))
      if (batchNorm.getInput() == current) {
        layer.batchNorm = batchNorm;
        current = batchNorm.getOutput();
      }
  if (auto clamp = dyn_cast_or_null<tosa::ClampOp>(singleUser(current)))
    current = clamp.getResult();
  layer.output = current;
  return layer;
}

/// PyTorch's QAT ConvBn form (`_ConvBnNd._forward`): the weight scaled by
/// weight / sqrt(running_var + eps) before its fake quantization, the
/// convolution without bias divided back by that factor, the bias added,
/// then batch norm with the batch's statistics. Emitted with the ops the
/// importer emits for the same PyTorch code, so both give the same bits.
void Preparer::rewriteConvBatchNorm(Layer &layer, StringRef prefix) {
  BatchNormOp batchNorm = layer.batchNorm;
  Location loc = batchNorm.getLoc();
  Value weight = layer.weight;
  auto weightType = cast<RankedTensorType>(weight.getType());
  auto channelType = cast<RankedTensorType>(batchNorm.getWeight().getType());
  int64_t channels = channelType.getDimSize(0);
  OpBuilder &b = builder;
  builder.setInsertionPoint(layer.weightUse->getOwner());
  auto epsType = RankedTensorType::get({1}, builder.getF32Type());
  Value eps = tosa::ConstOp::create(
      b, loc, epsType,
      DenseElementsAttr::get(epsType, batchNorm.getEpsilon().convertToFloat()));
  Value variance = add(b, loc, batchNorm.getRunningVar(), eps);
  Value std = math::SqrtOp::create(b, loc, variance);
  Value invStd = tosa::ReciprocalOp::create(b, loc, channelType, std);
  Value factor = mul(b, loc, batchNorm.getWeight(), invStd);
  int64_t axis = weightOutputAxis(layer.op);
  SmallVector<int64_t> weightFactorShape(weightType.getRank(), 1);
  weightFactorShape[axis] = channels;
  Value scaled =
      mul(b, loc, weight, reshape(b, loc, factor, weightFactorShape));
  layer.weightUse->set(fakeQuantize(
      scaled, (prefix + ".weight_fake_quant").str(), weights, loc, axis));

  // conv / factor (+ bias) feeds the batch norm instead of conv + bias.
  builder.setInsertionPoint(batchNorm);
  Value conv = layerOutput(layer.op);
  Value channelFactor = channelVector(b, loc, factor, typeOf(conv).getRank());
  Value inverse = tosa::ReciprocalOp::create(b, loc, channelFactor.getType(),
                                             channelFactor);
  Value original = mul(b, loc, conv, inverse);
  if (tosa::AddOp biasAdd = layer.biasAdd) {
    Value bias =
        biasAdd.getInput1() == conv ? biasAdd.getInput2() : biasAdd.getInput1();
    original = add(b, loc, original, bias);
  }
  batchNorm.getInputMutable().set(original);
  if (layer.biasAdd)
    layer.biasAdd.erase();
  if (freezeBatchNorm)
    batchNorm.removeTrainingAttr();
}

LogicalResult Preparer::run() {
  // New state arguments go after the existing ones, before the inputs.
  while (firstInput < function.getNumArguments() &&
         !function.getArgAttr(firstInput, "qat.input"))
    ++firstInput;
  bool found = false;
  function.walk([&](FakeQuantOp) { found = true; });
  if (found)
    return function.emitError("qat-prepare: '")
           << function.getSymName()
           << "' already has fake quantization (prepared twice?)";

  // Values computed from the inputs (activations), as opposed to state and
  // constants: only they get activation observers.
  DenseSet<Value> activationValues;
  SmallVector<BlockArgument> inputs;
  for (BlockArgument arg : function.getArguments())
    if (function.getArgAttr(arg.getArgNumber(), "qat.input") &&
        isa<FloatType>(getElementTypeOrSelf(arg.getType()))) {
      activationValues.insert(arg);
      inputs.push_back(arg);
    }
  SmallVector<Operation *> ops;
  DenseSet<Operation *> residualAdds;
  DenseSet<Value> lossValues;
  function.walk([&](Operation *op) {
    if (op->hasAttr(kLossAttr) || llvm::any_of(op->getOperands(), [&](Value v) {
          return lossValues.contains(v);
        })) {
      lossOps.insert(op);
      lossValues.insert(op->result_begin(), op->result_end());
    }
    if (llvm::any_of(op->getOperands(),
                     [&](Value v) { return activationValues.contains(v); }))
      for (Value result : op->getResults())
        activationValues.insert(result);
    // Sums in the loss, and of 0-d values (losses written by hand), are
    // not residual adds.
    if (isa<tosa::AddOp>(op) && !lossOps.contains(op) &&
        cast<RankedTensorType>(op->getResult(0).getType()).getRank() > 0 &&
        llvm::all_of(op->getOperands(),
                     [&](Value v) { return activationValues.contains(v); }))
      residualAdds.insert(op);
    ops.push_back(op);
  });

  // The ops a layer depends on: an input no layer reads (directly or
  // through reshapes, views, ...) is a target of the loss, not a network
  // input.
  DenseSet<Operation *> feedsLayer;
  for (Operation *op : llvm::reverse(ops))
    if (isLayerOp(op) || llvm::any_of(op->getUsers(), [&](Operation *user) {
          return feedsLayer.contains(user);
        }))
      feedsLayer.insert(op);

  // The inputs (QuantStub).
  Block &entry = function.getBody().front();
  for (BlockArgument input : inputs) {
    // In a model with a loss, a target of the loss stays raw and
    // unobserved.
    if (!lossOps.empty() && llvm::none_of(input.getUsers(), [&](Operation *u) {
          return feedsLayer.contains(u);
        }))
      continue;
    builder.setInsertionPointToStart(&entry);
    auto name = function.getArgAttrOfType<StringAttr>(input.getArgNumber(),
                                                      "qat.input");
    Value quantized = fakeQuantize(
        input, ("quant." + name.getValue() + ".activation_post_process").str(),
        activations, input.getLoc());
    useQuantized(input, quantized, /*rawInLoss=*/true);
  }

  // Layers, then residual adds that no layer took.
  DenseSet<Operation *> erased;   // bias adds a ConvBn rewrite replaced
  llvm::StringMap<unsigned> adds; // per submodule path
  for (Operation *op : ops) {
    if (erased.contains(op))
      continue;
    if (isLayerOp(op) && activationValues.contains(op->getResult(0))) {
      FailureOr<Layer> layer = matchLayer(op);
      if (failed(layer))
        return failure();
      StringRef weightName = stateName(layer->weight);
      StringRef prefix = weightName;
      prefix.consume_back(".weight");
      // A layer whose input comes from float arithmetic (normalization,
      // PReLU, a concatenation of different grids) observes its input, as
      // PyTorch's FX prepare_qat does for a quantized op's float input, so
      // that it runs in int8.
      Value layerInput = op->getOperand(0);
      if (!hasQuantizedInput(layerInput) &&
          activationValues.contains(layerInput)) {
        // Before the padding and reshapes that carry codes to the layer.
        OpOperand *use = &op->getOpOperand(0);
        while (Operation *def = use->get().getDefiningOp()) {
          if (!movesCodes(def))
            break;
          use = &def->getOpOperand(0);
        }
        builder.setInsertionPoint(use->getOwner());
        use->set(fakeQuantize(use->get(),
                              (prefix + ".input_post_process").str(),
                              activations, op->getLoc()));
      }
      if (layer->batchNorm) {
        if (layer->biasAdd)
          erased.insert(layer->biasAdd);
        rewriteConvBatchNorm(*layer, prefix);
      } else {
        builder.setInsertionPoint(layer->weightUse->getOwner());
        layer->weightUse->set(
            fakeQuantize(layer->weight, (prefix + ".weight_fake_quant").str(),
                         weights, op->getLoc(), weightOutputAxis(op)));
      }
      Value output = layer->output;
      builder.setInsertionPointAfterValue(output);
      Value quantized =
          fakeQuantize(output, (prefix + ".activation_post_process").str(),
                       activations, output.getLoc());
      useQuantized(output, quantized);
      continue;
    }
    auto add = dyn_cast<tosa::AddOp>(op);
    if (!add || !residualAdds.contains(op))
      continue;
    // A residual add (FloatFunctional.add), with a ReLU after it fused.
    Value output = add.getResult();
    if (auto clamp = dyn_cast_or_null<tosa::ClampOp>(singleUser(output)))
      output = clamp.getResult();
    builder.setInsertionPointAfterValue(output);
    // Named by the submodule the add is in ("blocks.2.add_0"), so that a
    // network keeps its observers' names inside another model.
    std::string path = modulePathOf(add.getLoc());
    std::string name = (path.empty() ? "" : path + ".") + "add_" +
                       std::to_string(adds[path]++);
    Value quantized = fakeQuantize(output, name + ".activation_post_process",
                                   activations, output.getLoc());
    useQuantized(output, quantized);
  }
  if (failed(status))
    return failure();

  // The new state goes out with the other state updates.
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  SmallVector<Value> operands(ret.getOperands());
  SmallVector<Type> resultTypes(function.getResultTypes());
  SmallVector<DictionaryAttr> resultAttrs;
  function.getAllResultAttrs(resultAttrs);
  for (auto &[name, value] : addedResults) {
    operands.push_back(value);
    resultTypes.push_back(value.getType());
    resultAttrs.push_back(builder.getDictionaryAttr(
        builder.getNamedAttr("qat.state", builder.getStringAttr(name))));
  }
  ret->setOperands(operands);
  function.setType(
      builder.getFunctionType(function.getArgumentTypes(), resultTypes));
  function.setAllResultAttrs(resultAttrs);
  return success();
}

} // namespace

namespace {

struct PreparePass : qat::impl::PreparePassBase<PreparePass> {
  using PreparePassBase::PreparePassBase;

  FailureOr<Grid> parseGrid(StringRef option, StringRef value, bool isWeight) {
    Builder b(&getContext());
    IntegerType si8 = b.getIntegerType(8, /*isSigned=*/true);
    IntegerType ui8 = b.getIntegerType(8, /*isSigned=*/false);
    if (isWeight && value == "per-tensor")
      return Grid{QuantScheme::symmetric, si8, -128, 127, false};
    if (isWeight && value == "per-channel")
      return Grid{QuantScheme::symmetric, si8, -128, 127, true};
    if (!isWeight && value == "uint8")
      return Grid{QuantScheme::affine, ui8, 0, 255, false};
    if (!isWeight && value == "int8")
      return Grid{QuantScheme::affine, si8, -128, 127, false};
    // PyTorch's reduce_range: 7-bit codes, which AVX2's vpmaddubsw
    // multiplies by any 8-bit weight pair without saturating.
    if (!isWeight && value == "uint7")
      return Grid{QuantScheme::affine, ui8, 0, 127, false};
    getOperation().emitError("qat-prepare: unknown ")
        << option << " '" << value << "' (expected "
        << (isWeight ? "per-tensor or per-channel" : "uint8, uint7 or int8")
        << ")";
    return failure();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Grid> weightGrid = parseGrid("weights", weights, true);
    FailureOr<Grid> activationGrid =
        parseGrid("activations", activations, false);
    if (failed(weightGrid) || failed(activationGrid))
      return signalPassFailure();
    if (!(averagingConstant > 0.0f && averagingConstant <= 1.0f)) {
      module.emitError("qat-prepare: averaging-constant must be in (0, 1]");
      return signalPassFailure();
    }

    // The model's functions: those with inputs (forward, forward_eval).
    SmallVector<func::FuncOp> functions;
    for (auto function : module.getOps<func::FuncOp>())
      if (llvm::any_of(function.getArguments(), [&](BlockArgument arg) {
            return function.getArgAttr(arg.getArgNumber(), "qat.input");
          }))
        functions.push_back(function);
    if (functions.empty()) {
      module.emitError("qat-prepare: no function has qat.input arguments "
                       "(expected a module from qat-import)");
      return signalPassFailure();
    }
    for (func::FuncOp function : functions) {
      bool observe = function.getSymName() != evalFunction;
      Preparer preparer(module, function, *weightGrid, *activationGrid,
                        averagingConstant, observe, freezeBatchNorm);
      if (failed(preparer.run()))
        return signalPassFailure();
      updateCallers(module, function, preparer.addedArguments,
                    preparer.addedResults);
    }
  }

  /// Callers (the importer's @predict) load the new state from its globals
  /// and store the updates back.
  void updateCallers(ModuleOp module, func::FuncOp function,
                     ArrayRef<std::pair<std::string, unsigned>> addedArguments,
                     ArrayRef<std::pair<std::string, Value>> addedResults) {
    SmallVector<func::CallOp> calls;
    module.walk([&](func::CallOp call) {
      if (call.getCallee() == function.getSymName())
        calls.push_back(call);
    });
    for (func::CallOp call : calls) {
      OpBuilder builder(call);
      SmallVector<Value> operands(call.getOperands());
      for (auto &[name, position] : addedArguments)
        operands.insert(operands.begin() + position,
                        ml_program::GlobalLoadOp::create(
                            builder, call.getLoc(),
                            function.getArgument(position).getType(),
                            SymbolRefAttr::get(builder.getContext(), name)));
      auto newCall =
          func::CallOp::create(builder, call.getLoc(), function, operands);
      call.replaceAllUsesWith(
          newCall.getResults().take_front(call.getNumResults()));
      for (auto [added, result] : llvm::zip_equal(
               addedResults,
               newCall.getResults().drop_front(call.getNumResults())))
        ml_program::GlobalStoreOp::create(
            builder, call.getLoc(),
            SymbolRefAttr::get(builder.getContext(), added.first), result);
      call.erase();
    }
  }
};

} // namespace
