//===- Deploy.cpp - a trained function with its values bound --------------===//
//
// Part of qat-mlir.
//
// Upstream constant folding knows neither qat ops nor most tosa arithmetic
// on tensors, so the values that depend on the trained state alone are
// evaluated by compiling exactly those ops with the JIT: the same lowering
// that training used, hence the same bits.
//
//===----------------------------------------------------------------------===//

#include "qat/Compiler/Compiler.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Training/Dataset.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseSet.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Ops that are constants already; their results need no evaluation.
bool isConstantLike(Operation *op) {
  return isa<arith::ConstantOp, tosa::ConstOp, tosa::ConstShapeOp>(op);
}

/// Binds every `qat.state` argument of `function` to the value of the
/// global of that name in `source`.
LogicalResult bindState(func::FuncOp function, ModuleOp source) {
  OpBuilder b(function.getBody());
  llvm::BitVector bound(function.getNumArguments());
  for (BlockArgument argument : function.getArguments()) {
    auto state = function.getArgAttrOfType<StringAttr>(argument.getArgNumber(),
                                                       "qat.state");
    if (!state)
      continue;
    auto global = source.lookupSymbol<ml_program::GlobalOp>(state.getValue());
    auto value = global ? dyn_cast_or_null<TypedAttr>(global.getValueAttr())
                        : TypedAttr();
    if (!value || value.getType() != argument.getType())
      return function.emitError("state '")
             << state.getValue()
             << "' has no trained value in the module (an ml_program.global "
                "of that name and type "
             << argument.getType() << ")";
    // A diverged training run: NaN or infinite weights would compile into
    // garbage (or INT32_MIN) without a word.
    if (auto floats = dyn_cast<DenseFPElementsAttr>(value)) {
      int64_t index = 0;
      for (const APFloat &element : floats.getValues<APFloat>()) {
        if (!element.isFinite())
          return function.emitError("state '")
                 << state.getValue() << "' holds a non-finite value ("
                 << (element.isNaN() ? "nan" : "inf") << " at flat index "
                 << index << "): the model cannot be deployed";
        ++index;
      }
    }
    Value constant = arith::ConstantOp::create(b, argument.getLoc(), value);
    argument.replaceAllUsesWith(constant);
    bound.set(argument.getArgNumber());
  }
  return function.eraseArguments(bound);
}

/// A model that returns its loss (a 0-d f32 first result) from (inputs,
/// targets) deploys its other outputs from its inputs alone: a twin of
/// `function` (`<function>_outputs`) without the loss, the ops only it
/// needed, and the targets only they read. Null if there is nothing to
/// deploy.
func::FuncOp outputsWithoutLoss(ModuleOp module, func::FuncOp function) {
  std::string name = (function.getSymName() + "_outputs").str();
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  auto outputs = llvm::count_if(
      llvm::seq<unsigned>(1, function.getNumResults()),
      [&](unsigned i) { return !function.getResultAttr(i, "qat.state"); });
  if (outputs == 0)
    return nullptr;
  OpBuilder b(function);
  b.setInsertionPointAfter(function);
  auto twin = cast<func::FuncOp>(b.clone(*function));
  twin.setSymName(name);
  twin.setPrivate();
  auto ret = cast<func::ReturnOp>(twin.getBody().front().getTerminator());
  ret->eraseOperand(0);
  (void)twin.eraseResult(0);
  IRRewriter rewriter(module.getContext());
  (void)runRegionDCE(rewriter, twin.getBody());
  llvm::BitVector unused(twin.getNumArguments());
  for (BlockArgument argument : twin.getArguments())
    if (argument.use_empty() &&
        twin.getArgAttr(argument.getArgNumber(), "qat.input"))
      unused.set(argument.getArgNumber());
  (void)twin.eraseArguments(unused);
  return twin;
}

bool returnsLoss(func::FuncOp function) {
  if (function.getNumResults() == 0)
    return false;
  auto type = dyn_cast<RankedTensorType>(function.getResultTypes()[0]);
  return type && type.getRank() == 0 && type.getElementType().isF32();
}

/// Deployment returns the model's outputs, not the state it would update.
void dropStateResults(func::FuncOp function) {
  auto ret = cast<func::ReturnOp>(function.getBody().front().getTerminator());
  llvm::BitVector state(function.getNumResults());
  for (unsigned i = 0; i < function.getNumResults(); ++i)
    if (function.getResultAttr(i, "qat.state"))
      state.set(i);
  for (int i = function.getNumResults() - 1; i >= 0; --i)
    if (state.test(i))
      ret->eraseOperand(i);
  (void)function.eraseResults(state);
}

/// Evaluates the values computed from constants alone that the rest of
/// `function` uses, and replaces them by constants.
LogicalResult evaluateConstants(func::FuncOp function,
                                const JitOptions &jitOptions) {
  Block &body = function.getBody().front();
  llvm::DenseSet<Operation *> constantOps;
  SmallVector<Operation *> order;
  for (Operation &op : body.without_terminator()) {
    // tensor.empty stays: evaluating it would embed buffers of zeros. Ops
    // with scalar results (tensor.extract) stay too: only tensors are
    // evaluated, and a scalar of a constant tensor is cheap.
    bool allTensors = llvm::all_of(op.getResultTypes(), [](Type type) {
      return isa<RankedTensorType>(type);
    });
    bool fromConstants = (allTensors || isConstantLike(&op)) &&
                         !isa<tensor::EmptyOp>(op) && op.getNumRegions() <= 1 &&
                         isPure(&op) &&
                         llvm::all_of(op.getOperands(), [&](Value operand) {
                           Operation *def = operand.getDefiningOp();
                           return def && constantOps.contains(def);
                         });
    if (!fromConstants)
      continue;
    constantOps.insert(&op);
    order.push_back(&op);
  }
  SmallVector<Value> boundary;
  for (Operation *op : order) {
    if (isConstantLike(op))
      continue;
    for (Value result : op->getResults()) {
      bool usedOutside = llvm::any_of(result.getUsers(), [&](Operation *user) {
        return !constantOps.contains(user);
      });
      if (!usedOutside)
        continue;
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (!type || !type.hasStaticShape() || type.getElementType().isInteger(1))
        return op->emitError("cannot evaluate this value of the trained "
                             "parameters at compile time: ")
               << result.getType();
      boundary.push_back(result);
    }
  }
  if (boundary.empty())
    return success();

  // A module with one function that computes the boundary values. Large
  // constants (the weights) are its arguments rather than constants in its
  // code: LLVM then compiles a small module instead of one that embeds
  // every weight (the LLVM IR of MobileNetV3-small's was 98 MB).
  std::vector<NpyArray> inputs;
  SmallVector<Type> inputTypes;
  llvm::DenseMap<Operation *, unsigned> passedConstants;
  for (Operation *op : order) {
    DenseElementsAttr attr;
    if (op->getNumResults() != 1 ||
        !matchPattern(op->getResult(0), m_Constant(&attr)) || attr.isSplat())
      continue;
    auto type = cast<RankedTensorType>(attr.getType());
    std::optional<NpyElementType> npyType = npyTypeOf(type.getElementType());
    if (!npyType || type.getElementType().isInteger(1) ||
        type.getNumElements() < 64)
      continue;
    ArrayRef<char> raw = attr.getRawData();
    NpyArray array;
    array.elementType = *npyType;
    array.shape.assign(type.getShape().begin(), type.getShape().end());
    array.data.assign(raw.begin(), raw.end());
    passedConstants[op] = inputs.size();
    inputs.push_back(std::move(array));
    inputTypes.push_back(type);
  }
  OpBuilder b(function.getContext());
  OwningOpRef<ModuleOp> evaluation = ModuleOp::create(function.getLoc());
  b.setInsertionPointToEnd(evaluation->getBody());
  SmallVector<Type> types;
  for (Value value : boundary)
    types.push_back(value.getType());
  auto evaluate = func::FuncOp::create(b, function.getLoc(), "qat_constants",
                                       b.getFunctionType(inputTypes, types));
  Block *entry = evaluate.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  IRMapping mapping;
  for (Operation *op : order) {
    auto passed = passedConstants.find(op);
    if (passed != passedConstants.end())
      mapping.map(op->getResult(0), entry->getArgument(passed->second));
    else
      b.clone(*op, mapping);
  }
  SmallVector<Value> results;
  for (Value value : boundary)
    results.push_back(mapping.lookup(value));
  func::ReturnOp::create(b, function.getLoc(), results);

  // The function runs once, on the weights: compiling it fast (LLVM -O1)
  // matters more than running it fast. Optimization levels do not change
  // f32 results (no fast-math), so the constants are the same bits.
  JitOptions onceOptions = jitOptions;
  onceOptions.optLevel = 1;
  auto jit = JitModule::compile(*evaluation, {"qat_constants"}, onceOptions);
  if (failed(jit))
    return failure();
  std::vector<NpyArray> values;
  if (failed((*jit)->call("qat_constants", inputs, values)))
    return failure();

  b.setInsertionPointToStart(&body);
  for (auto [value, array] : llvm::zip_equal(boundary, values)) {
    auto type = cast<RankedTensorType>(value.getType());
    auto attr = DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(array.data.data(), array.data.size()));
    value.replaceAllUsesWith(
        arith::ConstantOp::create(b, value.getLoc(), attr).getResult());
  }
  IRRewriter rewriter(function.getContext());
  (void)runRegionDCE(rewriter, function.getBody());
  return success();
}

/// Integer constants whose values fit in 8 bits (quantized weights) are
/// stored as i8 and widened where used: the object holds int8 weights.
void narrowConstants(func::FuncOp function) {
  SmallVector<arith::ConstantOp> constants;
  function.walk([&](arith::ConstantOp constant) {
    auto type = dyn_cast<RankedTensorType>(constant.getType());
    auto values = dyn_cast<DenseIntElementsAttr>(constant.getValue());
    if (!type || !values || !type.getElementType().isInteger(32) ||
        values.isSplat())
      return;
    bool fits = llvm::all_of(values.getValues<APInt>(),
                             [](const APInt &v) { return v.isSignedIntN(8); });
    if (fits)
      constants.push_back(constant);
  });
  for (arith::ConstantOp constant : constants) {
    OpBuilder b(constant);
    auto values = cast<DenseIntElementsAttr>(constant.getValue());
    auto type = cast<RankedTensorType>(constant.getType());
    auto narrowType = type.clone(b.getI8Type());
    DenseElementsAttr narrow = values.mapValues(
        b.getI8Type(), [](const APInt &v) { return v.trunc(8); });
    Value stored =
        arith::ConstantOp::create(b, constant.getLoc(), narrowType, narrow);
    Value widened = arith::ExtSIOp::create(b, constant.getLoc(), type, stored);
    constant.replaceAllUsesWith(widened);
    constant.erase();
  }
}

std::optional<float> constantF32(Value value) {
  DenseFPElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || attr.getNumElements() != 1)
    return std::nullopt;
  return (*attr.getValues<APFloat>().begin()).convertToFloat();
}

std::optional<int64_t> constantInt(Value value) {
  DenseIntElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || attr.getNumElements() != 1)
    return std::nullopt;
  return (*attr.getValues<APInt>().begin()).getSExtValue();
}

} // namespace

FailureOr<OwningOpRef<ModuleOp>>
mlir::qat::buildDeployableModule(ModuleOp module, StringRef function,
                                 StringRef name, const JitOptions &jitOptions) {
  auto source = module.lookupSymbol<func::FuncOp>(function);
  if (!source)
    return module.emitError("no function '") << function << "' to compile";
  OpBuilder b(module.getContext());
  OwningOpRef<ModuleOp> deploy = ModuleOp::create(module.getLoc());
  b.setInsertionPointToEnd(deploy->getBody());
  auto copy = cast<func::FuncOp>(b.clone(*source));
  copy.setSymName(name);
  copy.setPublic();
  dropStateResults(copy);
  if (failed(bindState(copy, module)))
    return failure();
  if (copy.getNumArguments() != 1)
    return source.emitError("a deployable function takes one input; '")
           << function << "' has " << copy.getNumArguments()
           << " arguments that are not model state";
  if (failed(evaluateConstants(copy, jitOptions)))
    return failure();
  narrowConstants(copy);
  // The qat.* argument and result names mean nothing to LLVM.
  for (unsigned i = 0; i < copy.getNumArguments(); ++i)
    copy.setArgAttrs(i, ArrayRef<NamedAttribute>{});
  for (unsigned i = 0; i < copy.getNumResults(); ++i)
    copy.setResultAttrs(i, ArrayRef<NamedAttribute>{});
  copy->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  if (failed(verify(*deploy)))
    return failure();
  return deploy;
}

FailureOr<ModelInterface> mlir::qat::readInterface(func::FuncOp function,
                                                   bool requireQuantized) {
  ModelInterface interface;
  auto inputType = cast<RankedTensorType>(function.getArgumentTypes()[0]);
  interface.inputShape.assign(inputType.getShape().begin(),
                              inputType.getShape().end());
  if (function.getNumResults() != 1)
    return function.emitError("a deployable function returns one tensor");
  auto outputType = cast<RankedTensorType>(function.getResultTypes()[0]);
  interface.outputShape.assign(outputType.getShape().begin(),
                               outputType.getShape().end());

  QuantizeOp input;
  bool anyQuantize = false;
  function.walk([&](QuantizeOp quantize) {
    anyQuantize = true;
    if (!input && isa<BlockArgument>(quantize.getInput()))
      input = quantize;
  });
  auto ret = cast<func::ReturnOp>(function.getBody().front().getTerminator());
  auto output = ret.getOperand(0).getDefiningOp<DequantizeOp>();
  if (!requireQuantized)
    return interface;
  if (!anyQuantize)
    return function.emitError(
        "not an int8 function: nothing in it is quantized (a model not "
        "prepared for QAT, or with all its fake quantization disabled; "
        "--keep-float compiles it in float)");
  interface.quantized = true;
  // Ops that compute in float on the way from the input (what
  // --qat-fold-quant=allow-float keeps), other than dequantizations.
  llvm::DenseSet<Value> fromInput(function.getArguments().begin(),
                                  function.getArguments().end());
  for (Operation &op : function.getBody().front().without_terminator()) {
    if (llvm::none_of(op.getOperands(),
                      [&](Value v) { return fromInput.contains(v); }))
      continue;
    fromInput.insert(op.getResults().begin(), op.getResults().end());
    if (!isa<DequantizeOp>(op) &&
        llvm::any_of(op.getResultTypes(), [](Type type) {
          return isa<FloatType>(getElementTypeOrSelf(type));
        }))
      ++interface.floatOps;
  }
  // A grid's scale and zero-point, which must be per-tensor constants.
  auto readGrid = [&](Value scale, Value zeroPoint, StringRef what,
                      float &scaleOut, int32_t &zeroPointOut) -> LogicalResult {
    std::optional<float> s = constantF32(scale);
    std::optional<int64_t> z = constantInt(zeroPoint);
    if (!s || !z)
      return function.emitError("the ")
             << what << " quantization parameters are not per-tensor constants";
    scaleOut = *s;
    zeroPointOut = static_cast<int32_t>(*z);
    return success();
  };
  // The first or last ops may compute in float (--qat-fold-quant=
  // allow-float), as after an average pooling that no fake quantization
  // follows.
  if (output) {
    if (failed(readGrid(output.getScale(), output.getZeroPoint(), "output",
                        interface.outputScale, interface.outputZeroPoint)))
      return failure();
    interface.outputQuantized = true;
  }
  if (!input)
    return interface;
  if (failed(readGrid(input.getScale(), input.getZeroPoint(), "input",
                      interface.inputScale, interface.inputZeroPoint)))
    return failure();
  interface.inputQuantized = true;
  interface.inputQuantMin = input.getQuantMin();
  interface.inputQuantMax = input.getQuantMax();
  return interface;
}

/// The largest |code - z| that a layer's input carries: 255 on an 8-bit
/// grid, times the windows of the sum poolings (average pooling) on its way.
static int64_t inputBound(Value input) {
  int64_t bound = 255;
  while (Operation *def = input.getDefiningOp()) {
    if (auto pool = dyn_cast<linalg::PoolingNchwSumOp>(def))
      bound *= cast<ShapedType>(pool.getInputs()[1].getType()).getNumElements();
    else if (!isa<tosa::SubOp, tensor::PadOp, tosa::ReshapeOp,
                  tensor::ExpandShapeOp, tensor::CollapseShapeOp,
                  linalg::PoolingNchwMaxOp>(def))
      break;
    input = def->getOperand(0);
  }
  return bound;
}

LogicalResult mlir::qat::checkAccumulatorBounds(func::FuncOp function) {
  WalkResult walk = function.walk([&](Operation *op) {
    bool isConv = isa<linalg::Conv2DNchwFchwOp>(op);
    bool isGrouped = isa<linalg::Conv2DNgchwGfchwOp>(op);
    if (!isConv && !isGrouped && !isa<linalg::BatchMatmulOp>(op))
      return WalkResult::advance();
    // Weights that fit 8 bits are stored as i8 and widened where used
    // (narrowConstants).
    Value weightValue = op->getOperand(1);
    if (auto widened = weightValue.getDefiningOp<arith::ExtSIOp>())
      weightValue = widened.getIn();
    DenseIntElementsAttr weights;
    if (!matchPattern(weightValue, m_Constant(&weights)))
      return WalkResult::advance();
    ArrayRef<int64_t> shape = weights.getType().getShape();
    // Conv: F x C x KH x KW, channel = first index; grouped conv:
    // G x F x C x KH x KW, channel = the first two; matmul: 1 x K x M,
    // channel = last index.
    int64_t channels = isConv      ? shape[0]
                       : isGrouped ? shape[0] * shape[1]
                                   : shape.back();
    bool channelMajor = isConv || isGrouped;
    std::vector<int64_t> sumAbs(channels, 0);
    int64_t index = 0, total = weights.getNumElements();
    for (const APInt &w : weights.getValues<APInt>()) {
      int64_t channel =
          channelMajor ? index / (total / channels) : index % channels;
      sumAbs[channel] += std::llabs(w.getSExtValue());
      ++index;
    }
    int64_t maxInput = inputBound(op->getOperand(0));
    std::vector<int64_t> biasAbs(channels, 0);
    Value acc = op->getResult(0);
    if (acc.hasOneUse() &&
        isa<tosa::ReshapeOp, tensor::CollapseShapeOp>(*acc.getUsers().begin()))
      acc = acc.getUsers().begin()->getResult(0);
    for (Operation *user : acc.getUsers()) {
      auto add = dyn_cast<tosa::AddOp>(user);
      DenseIntElementsAttr bias;
      if (add && matchPattern(add.getInput2(), m_Constant(&bias)) &&
          bias.getNumElements() == channels) {
        int64_t c = 0;
        for (const APInt &value : bias.getValues<APInt>())
          biasAbs[c++] = std::llabs(value.getSExtValue());
      }
    }
    for (int64_t c = 0; c < channels; ++c) {
      // A float bias over the scale past 2^31 became INT32_MIN when it was
      // converted (a bias of 1e30, a diverged run).
      if (biasAbs[c] >= INT32_MAX) {
        op->emitError("the int32 bias of output channel ")
            << c << " is out of range (" << biasAbs[c]
            << "): the trained bias divided by the input and weight scales "
               "does not fit 32 bits";
        return WalkResult::interrupt();
      }
      int64_t bound = sumAbs[c] * maxInput + biasAbs[c];
      if (bound > INT32_MAX) {
        op->emitError("int32 accumulation could overflow: output channel ")
            << c << " has sum |w| = " << sumAbs[c]
            << " and |bias| = " << biasAbs[c] << ", so |accumulator| may reach "
            << bound << " >= 2^31 (inputs |code - zero_point| <= " << maxInput
            << ")";
        return WalkResult::interrupt();
      }
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

LogicalResult mlir::qat::checkBatchNormStatistics(ModuleOp module) {
  // Every batch norm of the module (the training forward keeps them even
  // where target-exact training folded the evaluation function's) names
  // its running variance's state.
  WalkResult walk = module.walk([&](BatchNormOp batchNorm) {
    Value variance = batchNorm.getRunningVar();
    while (Operation *def = variance.getDefiningOp()) {
      if (!isa<tosa::ReshapeOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp>(
              def))
        break;
      variance = def->getOperand(0);
    }
    auto argument = dyn_cast<BlockArgument>(variance);
    auto owner =
        argument ? dyn_cast<func::FuncOp>(argument.getOwner()->getParentOp())
                 : func::FuncOp();
    auto name = owner ? owner.getArgAttrOfType<StringAttr>(
                            argument.getArgNumber(), "qat.state")
                      : StringAttr();
    auto global =
        name ? module.lookupSymbol<ml_program::GlobalOp>(name.getValue())
             : ml_program::GlobalOp();
    auto values =
        global ? dyn_cast_or_null<DenseFPElementsAttr>(global.getValueAttr())
               : DenseFPElementsAttr();
    if (!values)
      return WalkResult::advance();
    int64_t index = 0;
    for (const APFloat &value : values.getValues<APFloat>()) {
      if (!value.isFinite() || value.isNegative()) {
        batchNorm.emitError("the running variance '")
            << name.getValue() << "' of this batch norm is "
            << value.convertToFloat() << " at channel " << index
            << ": a variance must be finite and >= 0 (a corrupt or "
               "diverged model)";
        return WalkResult::interrupt();
      }
      ++index;
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

FailureOr<DeployedModel> mlir::qat::deployModule(ModuleOp module,
                                                 const DeployOptions &options,
                                                 const JitOptions &jitOptions) {
  if (failed(checkBatchNormStatistics(module)))
    return failure();
  DeployPipelineOptions pipeline;
  pipeline.function =
      options.function.empty() ? evaluationFunction(module) : options.function;
  if (auto function = module.lookupSymbol<func::FuncOp>(pipeline.function);
      function && returnsLoss(function)) {
    func::FuncOp outputs = outputsWithoutLoss(module, function);
    if (!outputs)
      return function.emitError("'")
             << pipeline.function
             << "' returns only its loss: there is no output to deploy "
                "(return (loss, outputs) from forward)";
    pipeline.function = outputs.getSymName().str();
  }
  pipeline.keepFloat = options.keepFloat;
  pipeline.allowFloat = !options.strictInt8;
  pipeline.batch = options.batch;
  std::string deployed = deployedFunction(pipeline);
  // A module folded already (qat-opt --qat-fold-quant) is compiled as it is.
  pipeline.fold = !module.lookupSymbol(deployed);
  PassManager pm(module.getContext());
  // qat-compile's --mlir-timing and friends (no-op without them).
  (void)applyPassManagerCLOptions(pm);
  applyDefaultTimingPassManagerCLOptions(pm);
  buildDeployPipeline(pm, pipeline);
  if (failed(pm.run(module)))
    return failure();
  auto built =
      buildDeployableModule(module, deployed, options.name, jitOptions);
  if (failed(built))
    return failure();
  auto function = (**built).lookupSymbol<func::FuncOp>(options.name);
  if (failed(checkAccumulatorBounds(function)))
    return failure();
  auto interface =
      readInterface(function, /*requireQuantized=*/!options.keepFloat);
  if (failed(interface))
    return failure();
  return DeployedModel{std::move(*built), *interface};
}

std::optional<std::pair<float, float>>
mlir::qat::recordedNormalization(ModuleOp module) {
  auto mean = module->getAttrOfType<FloatAttr>(kInputMeanAttr);
  auto std = module->getAttrOfType<FloatAttr>(kInputStdAttr);
  if (!mean || !std)
    return std::nullopt;
  return std::make_pair(static_cast<float>(mean.getValueAsDouble()),
                        static_cast<float>(std.getValueAsDouble()));
}
