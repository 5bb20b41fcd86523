//===- Trainer.cpp - training a module on an image data set -----*- C++ -*-===//
//
// Part of qat-mlir. The driver side of training: data, batches, the
// learning-rate schedule, state bookkeeping, evaluation, logs and
// checkpoints. Everything numeric happens in the compiled step function.
//
//===----------------------------------------------------------------------===//

#include "qat/Training/Trainer.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Transforms/BufferizableOpInterfaceImpl.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"
#include "qat/ExecutionEngine/JitRunner.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Support/AtomicFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

using namespace mlir;
using namespace mlir::qat;

namespace {

constexpr llvm::StringLiteral kTrainedEpochs = "qat.trained_epochs";

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// A global's value as an array (splats expanded).
NpyArray arrayOf(ml_program::GlobalOp global, const TensorSpec &spec) {
  NpyArray array = NpyArray::zeros(spec.elementType, spec.shape);
  auto value = cast<DenseElementsAttr>(*global.getValue());
  ArrayRef<char> raw = value.getRawData();
  if (value.isSplat()) {
    size_t size = npyElementSize(spec.elementType);
    for (size_t offset = 0; offset < array.data.size(); offset += size)
      std::memcpy(array.data.data() + offset, raw.data(), size);
  } else {
    std::memcpy(array.data.data(), raw.data(), array.data.size());
  }
  return array;
}

int64_t argmax(const float *row, int64_t classes) {
  return std::max_element(row, row + classes) - row;
}

StringRef entryOf(TrainPhase phase) {
  switch (phase) {
  case TrainPhase::FpWarmup:
    return "train_step_warmup";
  case TrainPhase::Qat:
    return "train_step";
  case TrainPhase::QatFrozenBatchNorm:
    return "train_step_frozen_bn";
  }
  llvm_unreachable("unknown phase");
}

} // namespace

double mlir::qat::learningRateAt(int64_t step, int64_t total, int64_t warmup,
                                 double peak) {
  if (step < warmup)
    return peak * static_cast<double>(step + 1) / warmup;
  double progress =
      static_cast<double>(step - warmup) / std::max<int64_t>(1, total - warmup);
  return peak * 0.5 * (1.0 + std::cos(M_PI * progress));
}

std::vector<int64_t> mlir::qat::epochOrder(uint64_t seed, int64_t epoch,
                                           int64_t count) {
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + epoch);
  for (int64_t i = count - 1; i > 0; --i)
    std::swap(order[i], order[rng() % (i + 1)]);
  return order;
}

//===----------------------------------------------------------------------===//
// TrainingSession
//===----------------------------------------------------------------------===//

TrainingSession::~TrainingSession() = default;

FailureOr<std::unique_ptr<TrainingSession>>
TrainingSession::open(ModuleOp module, const TrainOptions &options) {
  std::unique_ptr<TrainingSession> session(
      new TrainingSession(module, options));
  if (failed(session->checkOptions()) || failed(session->checkModel()))
    return failure();
  return session;
}

FailureOr<std::unique_ptr<TrainingSession>>
TrainingSession::create(ModuleOp module, const TrainOptions &options) {
  auto session = open(module, options);
  if (failed(session) || failed((*session)->compile()))
    return failure();
  return session;
}

LogicalResult TrainingSession::error(const llvm::Twine &message) {
  return module.emitError(message);
}

double TrainingSession::compileSeconds() const {
  return jit ? jit->compileSeconds() : 0.0;
}
bool TrainingSession::loadedFromCache() const {
  return jit && jit->loadedFromCache();
}

MutableArrayRef<float> TrainingSession::images() {
  return {reinterpret_cast<float *>(imageBatch.data.data()),
          static_cast<size_t>(imageBatch.numElements())};
}

MutableArrayRef<int64_t> TrainingSession::labels() {
  return {reinterpret_cast<int64_t *>(labelBatch.data.data()),
          static_cast<size_t>(labelBatch.numElements())};
}

TrainPhase TrainingSession::phaseOf(int64_t epoch) const {
  if (epoch < options.fpWarmupEpochs)
    return TrainPhase::FpWarmup;
  if (options.freezeBatchNormAfterEpochs > 0 &&
      epoch - options.fpWarmupEpochs >= options.freezeBatchNormAfterEpochs)
    return TrainPhase::QatFrozenBatchNorm;
  return TrainPhase::Qat;
}

/// Numeric options a library caller (not only qat-train) may get wrong.
LogicalResult TrainingSession::checkOptions() {
  auto finite = [](double value) { return std::isfinite(value); };
  if (!finite(options.learningRate) || options.learningRate <= 0)
    return error("the learning rate must be positive and finite, not " +
                 llvm::formatv("{0}", options.learningRate));
  if (!finite(options.lrWarmupEpochs) || options.lrWarmupEpochs < 0)
    return error("the learning-rate warm-up must be a finite number of "
                 "epochs >= 0, not " +
                 llvm::formatv("{0}", options.lrWarmupEpochs));
  if (options.optimizer != "sgd" && options.optimizer != "adam")
    return error("unknown optimizer '" + options.optimizer + "' (sgd, adam)");
  for (auto [name, beta] :
       {std::pair<StringRef, double>{"beta1", options.adamBeta1},
        {"beta2", options.adamBeta2}})
    if (!(beta >= 0 && beta < 1))
      return error("Adam's " + name + " must be in [0, 1), not " +
                   llvm::formatv("{0}", beta));
  if (!finite(options.adamEpsilon) || options.adamEpsilon < 0)
    return error("Adam's epsilon must be finite and >= 0, not " +
                 llvm::formatv("{0}", options.adamEpsilon));
  if (!finite(options.momentum) || options.momentum < 0)
    return error("the momentum must be finite and >= 0, not " +
                 llvm::formatv("{0}", options.momentum));
  for (double decay : {options.weightDecayDepthwise, options.weightDecayConv,
                       options.weightDecayOther})
    if (!finite(decay) || decay < 0)
      return error("weight decays must be finite and >= 0, not " +
                   llvm::formatv("{0}", decay));
  if (options.trainLimit < 0 || options.testLimit < 0)
    return error("the training and test limits must be >= 0 (0: all "
                 "images), not " +
                 llvm::Twine(std::min(options.trainLimit, options.testLimit)));
  if (options.epochs < 1 || options.fpWarmupEpochs < 0 ||
      options.freezeBatchNormAfterEpochs < 0)
    return error("the epochs must be at least 1 and the warm-up and "
                 "freezing epochs >= 0");
  return success();
}

LogicalResult TrainingSession::checkModel() {
  if (options.replicaBatch > 0 && failed(rebatch(options.replicaBatch)))
    return failure();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal())
    return error("the module has no @forward to train: import the model "
                 "with qat-import --mode train");
  if (!module.lookupSymbol<func::FuncOp>("forward_eval"))
    return error("the module has no @forward_eval to evaluate with: import "
                 "the model with qat-import --mode train");
  auto first = forward.getNumResults()
                   ? dyn_cast<RankedTensorType>(forward.getResultTypes()[0])
                   : RankedTensorType();
  lossModel = first && first.getRank() == 0 && first.getElementType().isF32();
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto name = forward.getArgAttrOfType<StringAttr>(i, "qat.input");
    auto type = dyn_cast<RankedTensorType>(forward.getArgument(i).getType());
    if (!name || name.getValue() == "rng_seed")
      continue;
    if (!type || !type.hasStaticShape() || type.getRank() == 0)
      return error("@forward's input '" + name.getValue() +
                   "' must be a static tensor with a batch dimension");
    if (imagesName.empty()) {
      bool images =
          lossModel ? type.getElementType().isF32() : type.getRank() == 4;
      if (!images)
        return error(lossModel ? "@forward's first input must be f32"
                               : "@forward has no static N x C x H x W "
                                 "image input");
      imagesName = name.getValue().str();
      imageShape.assign(type.getShape().begin(), type.getShape().end());
      batch = imageShape[0];
      if (!lossModel)
        break;
      continue;
    }
    // The trainer provides these inputs itself ("labels" only to
    // classifiers, which have no targets).
    if (llvm::is_contained(
            {"learning_rate", "grad_boost_noise", "grad_boost_seed"},
            name.getValue()))
      return error("@forward's input '" + name.getValue() +
                   "' has a name the trainer reserves: rename it");
    std::optional<NpyElementType> element = npyTypeOf(type.getElementType());
    if (!element || (*element != NpyElementType::Float32 &&
                     *element != NpyElementType::Int64))
      return error("@forward's input '" + name.getValue() +
                   "' must be f32 or i64");
    if (type.getDimSize(0) != batch)
      return error("@forward's input '" + name.getValue() +
                   "' has another batch size than '" + imagesName + "'");
    targetInputNames.push_back(name.getValue().str());
    targetBatches.push_back(NpyArray::zeros(
        *element, {type.getShape().begin(), type.getShape().end()}));
  }
  if (imagesName.empty())
    return error("@forward has no static N x C x H x W image input");
  if (!lossModel) {
    auto logits = dyn_cast_or_null<RankedTensorType>(first);
    if (!logits || logits.getRank() != 2 || !logits.hasStaticShape())
      return error("@forward's first result must be static N x C logits, "
                   "or a 0-d f32 loss");
    classes = logits.getDimSize(1);
  }
  for (unsigned i = 0; i < forward.getNumArguments(); ++i)
    if (forward.getArgAttr(i, "qat.trainable"))
      if (auto name = forward.getArgAttrOfType<StringAttr>(i, "qat.state"))
        parameters.push_back(name.getValue().str());
  if (auto done = module->getAttrOfType<IntegerAttr>(kTrainedEpochs))
    startEpoch = done.getInt();
  imageBatch = NpyArray::zeros(NpyElementType::Float32, imageShape);
  labelBatch = NpyArray::zeros(NpyElementType::Int64, {batch});
  return success();
}

/// The model's functions (@forward, @forward_eval) for batches of `size`
/// images, if theirs differ.
LogicalResult TrainingSession::rebatch(int64_t size) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal())
    return success(); // checkModel names the problem
  for (BlockArgument argument : forward.getArguments())
    if (forward.getArgAttr(argument.getArgNumber(), "qat.input"))
      if (auto type = dyn_cast<RankedTensorType>(argument.getType());
          type && type.getRank() > 0 && type.getDimSize(0) == size)
        return success();
  PassManager pm(module.getContext());
  RebatchPassOptions rebatch;
  rebatch.batch = size;
  pm.addNestedPass<func::FuncOp>(createRebatchPass(rebatch));
  // Verified once the callers below agree with their callees again.
  pm.enableVerifier(false);
  if (failed(pm.run(module)))
    return failure();
  // Wrappers that pass their arguments straight to a rebatched function
  // (the importer's @predict) take its new types.
  module.walk([&](func::CallOp call) {
    auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
    auto caller = call->getParentOfType<func::FuncOp>();
    if (!callee || call.getResultTypes() == callee.getResultTypes())
      return;
    for (auto [operand, type] :
         llvm::zip(call.getOperands(), callee.getArgumentTypes()))
      if (auto argument = dyn_cast<BlockArgument>(operand))
        argument.setType(type);
    for (auto [result, type] :
         llvm::zip(call.getResults(), callee.getResultTypes()))
      result.setType(type);
    Operation *terminator = caller.getBody().front().getTerminator();
    caller.setFunctionType(FunctionType::get(
        module.getContext(), caller.getBody().front().getArgumentTypes(),
        terminator->getOperandTypes()));
  });
  return verify(module);
}

int TrainingSession::rank() const {
  return options.communicator ? options.communicator->rank() : 0;
}

int TrainingSession::ranks() const {
  return options.communicator ? options.communicator->size() : 1;
}

/// FNV-1a over a tensor's bytes: equal bits, equal hashes; a difference
/// shows with probability 1 - 2^-64.
static uint64_t hashOf(const NpyArray &array) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char byte : array.data)
    hash = (hash ^ static_cast<uint8_t>(byte)) * 0x100000001b3ull;
  return hash;
}

std::string TrainingSession::replicaDivergence() const {
  if (ranks() == 1)
    return "";
  std::vector<std::string> names;
  for (const auto &entry : stateArrays)
    names.push_back(entry.getKey().str());
  llvm::sort(names);
  std::vector<uint64_t> hashes;
  for (const std::string &name : names)
    hashes.push_back(hashOf(stateArrays.lookup(name)));
  std::vector<uint64_t> all = options.communicator->allGather(hashes);
  for (int other = 1; other < ranks(); ++other)
    for (size_t i = 0; i < names.size(); ++i)
      if (all[other * names.size() + i] != all[i])
        return ("the replicas diverged: state '" + names[i] + "' of rank " +
                llvm::Twine(other) + " differs from rank 0's")
            .str();
  return "";
}

double TrainingSession::meanOverRanks(float value) const {
  if (ranks() == 1)
    return value;
  float values[] = {value};
  options.communicator->allReduce(values, ReduceKind::sum);
  return static_cast<double>(values[0]) / ranks();
}

int64_t TrainingSession::sumOverRanks(int64_t count) const {
  if (ranks() == 1)
    return count;
  int64_t values[] = {count};
  options.communicator->allReduce(values);
  return values[0];
}

/// Runs the training-step pipeline (QAT preparation with a qconfig, the
/// steps, GradBoost, StatAssist), compiles the steps and the evaluation
/// forward, and loads the state from the globals.
LogicalResult TrainingSession::compile() {
  TrainStepPipelineOptions pipeline;
  // A checkpoint was prepared by the run that saved it.
  pipeline.prepare =
      !options.qconfigWeights.empty() && !module->hasAttr(kTrainedEpochs);
  pipeline.qconfig.weights = options.qconfigWeights;
  pipeline.qconfig.activations = options.qconfigActivations;
  pipeline.frozenBatchNorm = options.freezeBatchNormAfterEpochs > 0;
  pipeline.targetExact = options.targetExact;
  pipeline.optimizer.algorithm = options.optimizer == "adam"
                                     ? OptimizerAlgorithm::adam
                                     : OptimizerAlgorithm::sgd;
  pipeline.optimizer.momentum = options.momentum;
  pipeline.optimizer.nesterov = options.nesterov;
  pipeline.optimizer.beta1 = options.adamBeta1;
  pipeline.optimizer.beta2 = options.adamBeta2;
  pipeline.optimizer.epsilon = options.adamEpsilon;
  pipeline.optimizer.weightDecayDepthwise = options.weightDecayDepthwise;
  pipeline.optimizer.weightDecayConv = options.weightDecayConv;
  pipeline.optimizer.weightDecayOther = options.weightDecayOther;
  pipeline.gradBoost = options.gradBoost;
  if (options.gradBoostVariant == "reference")
    pipeline.gradBoostOptions.variant = GradBoostVariant::reference;
  else if (options.gradBoostVariant == "corrected")
    pipeline.gradBoostOptions.variant = GradBoostVariant::corrected;
  else
    return error("unknown GradBoost variant '" + options.gradBoostVariant +
                 "' (reference or corrected)");
  pipeline.gradBoostOptions.beta = options.gradBoostBeta;
  pipeline.gradBoostOptions.decay = options.gradBoostDecay;
  pipeline.gradBoostOptions.clip = options.gradBoostClip;
  pipeline.gradBoostOptions.coinProbability = options.gradBoostCoinProbability;
  pipeline.statAssist = options.fpWarmupEpochs > 0;
  pipeline.inheritObservers = options.inheritObservers;
  pipeline.replicas = ranks();
  pipeline.syncBatchNorm = options.syncBatchNorm;
  PassManager pm(module.getContext());
  buildTrainStepPipeline(pm, pipeline);
  if (failed(pm.run(module)))
    return failure();

  OwningOpRef<ModuleOp> lowered = module.clone();
  // Bookkeeping of the driver, not code: a resumed run, or one on data with
  // another normalization, reuses the cached step.
  for (StringRef name : {StringRef(kTrainedEpochs), StringRef(kInputMeanAttr),
                         StringRef(kInputStdAttr)})
    (*lowered)->removeAttr(name);
  JitOptions jitOptions;
  jitOptions.optLevel = options.optLevel;
  jitOptions.sharedLibs = options.sharedLibs;
  jitOptions.threads = options.threads;
  jitOptions.cacheDir = options.cacheDir;
  if (ranks() > 1) {
    // One communicator per process: the MPI world.
    setStepCommunicator(options.communicator);
    jitOptions.symbols.push_back(
        {kAllReduceRuntimeFunction.str(), allReduceRuntimeFunction()});
  }
  std::vector<std::string> entries = {"train_step", "forward_eval"};
  if (options.freezeBatchNormAfterEpochs > 0)
    entries.push_back("train_step_frozen_bn");
  if (options.fpWarmupEpochs > 0) {
    entries.push_back("train_step_warmup");
    entries.push_back("forward_eval_warmup");
  }
  auto compiled = JitModule::compile(*lowered, entries, jitOptions);
  if (failed(compiled))
    return failure();
  jit = std::move(*compiled);

  for (const std::string &entry : entries)
    for (const TensorSpec &spec : jit->spec(entry).arguments) {
      if (spec.role != "state" || stateArrays.count(spec.name))
        continue;
      auto global = module.lookupSymbol<ml_program::GlobalOp>(spec.name);
      if (!global || !global.getValue() ||
          !isa<DenseElementsAttr>(*global.getValue()))
        return error("the state '" + spec.name +
                     "' has no global with a dense value");
      stateArrays[spec.name] = arrayOf(global, spec);
    }
  return success();
}

LogicalResult TrainingSession::call(StringRef entry, double learningRate,
                                    int64_t globalStep, bool updateState) {
  if (!jit)
    return error("the training session is not compiled yet");
  const FunctionSpec &spec = jit->spec(entry);
  arguments.resize(spec.arguments.size());
  // The batch buffers are lent to the call (compiled code may overwrite
  // its arguments; the caller refills them for the next one).
  auto lend = [&](NpyArray &slot, NpyArray &buffer) {
    std::swap(slot, buffer);
  };
  int64_t imagesIndex = -1, labelsIndex = -1;
  SmallVector<std::pair<int64_t, size_t>> targetsLent;
  for (auto [index, argument] : llvm::enumerate(spec.arguments)) {
    NpyArray &value = arguments[index];
    if (argument.role == "state") {
      // The step's state results replace the state below; until then the
      // call reads it from these copies.
      value = stateArrays[argument.name];
    } else if (argument.name == imagesName) {
      lend(value, imageBatch);
      imagesIndex = index;
    } else if (auto it = llvm::find(targetInputNames, argument.name);
               it != targetInputNames.end()) {
      // Before "labels": a model's own target may carry that name.
      size_t target = it - targetInputNames.begin();
      lend(value, targetBatches[target]);
      targetsLent.push_back({static_cast<int64_t>(index), target});
    } else if (argument.name == "labels") {
      lend(value, labelBatch);
      labelsIndex = index;
    } else if (argument.name == "learning_rate") {
      value = NpyArray::zeros(NpyElementType::Float32, {});
      *reinterpret_cast<float *>(value.data.data()) = learningRate;
    } else if (argument.name == "grad_boost_noise") {
      // Noise in every step: there is no FP warm-up phase yet.
      value = NpyArray::zeros(NpyElementType::Float32, {});
      *reinterpret_cast<float *>(value.data.data()) = 1.0f;
    } else if (argument.name == "grad_boost_seed") {
      value = NpyArray::zeros(NpyElementType::Int64, {});
      *reinterpret_cast<uint64_t *>(value.data.data()) = options.seed;
    } else if (argument.name == "rng_seed") {
      value = NpyArray::zeros(NpyElementType::Int64, {});
      // Each rank draws its own dropout masks (one process: globalStep).
      *reinterpret_cast<uint64_t *>(value.data.data()) =
          options.seed * 0xBF58476D1CE4E5B9ull + globalStep * ranks() + rank();
    } else {
      return error("@" + entry + " takes an input '" + argument.name +
                   "' that the trainer cannot provide");
    }
  }
  LogicalResult called = jit->call(entry, arguments, results);
  if (imagesIndex >= 0)
    lend(arguments[imagesIndex], imageBatch);
  if (labelsIndex >= 0)
    lend(arguments[labelsIndex], labelBatch);
  for (auto [index, target] : targetsLent)
    lend(arguments[index], targetBatches[target]);
  if (failed(called))
    return failure();
  logitsResult = -1;
  for (auto [index, result] : llvm::enumerate(spec.results)) {
    bool isOutput = result.role != "state" && result.role != "gradient";
    // A model that returns its loss: the loss is the step's "loss" and the
    // evaluation forward's (unnamed) first result; its other outputs follow.
    bool isLoss = result.name == "loss" ||
                  (lossModel && index == 0 && result.role.empty());
    if (result.role == "state" && updateState)
      // Swap rather than copy: the old buffer, of the same shape, receives
      // this result in the next call.
      std::swap(stateArrays[result.name], results[index]);
    else if (isLoss)
      loss = *reinterpret_cast<const float *>(results[index].data.data());
    else if (logitsResult < 0 && isOutput &&
             results[index].elementType == NpyElementType::Float32 &&
             (result.name == "logits" || lossModel ||
              (index == 0 && result.role.empty())))
      logitsResult = index;
  }
  return success();
}

FailureOr<float> TrainingSession::step(TrainPhase phase, double learningRate,
                                       int64_t globalStep) {
  StringRef entry = entryOf(phase);
  if (jit && !jit->hasEntry(entry))
    return error("the session has no '" + entry +
                 "' step: it was created without " +
                 (phase == TrainPhase::FpWarmup ? "FP warm-up epochs"
                                                : "batch-norm freezing"));
  if (failed(call(entry, learningRate, globalStep, /*updateState=*/true)))
    return failure();
  return loss;
}

FailureOr<ArrayRef<float>> TrainingSession::predict(bool fpWarmup) {
  StringRef entry = fpWarmup ? "forward_eval_warmup" : "forward_eval";
  if (jit && !jit->hasEntry(entry))
    return error("the session has no FP evaluation: it was created without "
                 "FP warm-up epochs");
  if (failed(call(entry, 0.0, 0, /*updateState=*/false)))
    return failure();
  return logits();
}

ArrayRef<int64_t> TrainingSession::outputShape() const {
  if (logitsResult < 0)
    return {};
  return results[logitsResult].shape;
}

ArrayRef<float> TrainingSession::logits() const {
  if (logitsResult < 0)
    return {};
  const NpyArray &array = results[logitsResult];
  return {reinterpret_cast<const float *>(array.data.data()),
          static_cast<size_t>(array.numElements())};
}

LogicalResult TrainingSession::setState(StringRef name, const NpyArray &value) {
  auto it = stateArrays.find(name);
  if (it == stateArrays.end())
    return error("no training state is named '" + name + "'");
  NpyArray &current = it->getValue();
  auto describe = [](const NpyArray &array) {
    std::string text = npyDescr(array.elementType).str() + " [";
    for (auto [index, size] : llvm::enumerate(array.shape))
      text += (index ? "x" : "") + std::to_string(size);
    return text + "]";
  };
  if (current.elementType != value.elementType || current.shape != value.shape)
    return error("state '" + name + "' is " + describe(current) + ", not " +
                 describe(value));
  current.data = value.data;
  return success();
}

std::string TrainingSession::firstNonFiniteParameter() const {
  for (const std::string &name : parameters) {
    auto it = stateArrays.find(name);
    if (it == stateArrays.end() ||
        it->second.elementType != NpyElementType::Float32)
      continue;
    auto values =
        ArrayRef<float>(reinterpret_cast<const float *>(it->second.data.data()),
                        it->second.data.size() / sizeof(float));
    auto bad = llvm::find_if(values, [](float v) { return !std::isfinite(v); });
    if (bad != values.end())
      return (" and parameter '" + name + "' is " + llvm::formatv("{0}", *bad) +
              " after the update")
          .str();
  }
  return "";
}

void TrainingSession::storeState(int64_t epochsDone) {
  for (auto &entry : stateArrays) {
    auto global = module.lookupSymbol<ml_program::GlobalOp>(entry.getKey());
    auto type = cast<RankedTensorType>(global.getType());
    const NpyArray &array = entry.getValue();
    global.setValueAttr(DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(array.data.data(), array.data.size())));
  }
  Builder builder(module.getContext());
  module->setAttr(kTrainedEpochs, builder.getI64IntegerAttr(epochsDone));
}

OwningOpRef<ModuleOp> TrainingSession::checkpoint() const {
  OwningOpRef<ModuleOp> saved = ModuleOp(module).clone();
  for (StringRef name : trainStepFunctionNames())
    if (Operation *func = saved->lookupSymbol(name))
      func->erase();
  return saved;
}

//===----------------------------------------------------------------------===//
// qat-train's epoch loop
//===----------------------------------------------------------------------===//

namespace {

struct EpochLoop {
  EpochLoop(ModuleOp module, const TrainOptions &options,
            llvm::raw_ostream &out)
      : module(module), options(options), out(out) {}

  ModuleOp module;
  const TrainOptions &options;
  llvm::raw_ostream &out;
  std::unique_ptr<TrainingSession> session;
  /// The images' normalization in use (loadData decides it).
  float inputMean = 0, inputStd = 1;
  ImageDataset train, test;

  LogicalResult error(const llvm::Twine &message) {
    return module.emitError(message);
  }
  /// Where the run reports: `out` on rank 0, nowhere on the others.
  llvm::raw_ostream &report() {
    return session->rank() == 0 ? out : llvm::nulls();
  }
  LogicalResult loadData(int64_t channels, int64_t height, int64_t width,
                         int64_t classes, int64_t batch);
  void fillBatch(const ImageDataset &data, ArrayRef<int64_t> indices);
  FailureOr<double> evaluate(bool fpWarmup);
  LogicalResult save(int64_t epochsDone);
  LogicalResult checkFinite(float loss, int64_t epoch, int64_t step);
  LogicalResult run();
};

LogicalResult EpochLoop::loadData(int64_t channels, int64_t height,
                                  int64_t width, int64_t classes,
                                  int64_t batch) {
  for (auto [split, data] :
       {std::pair<StringRef, ImageDataset *>{"train", &train},
        {"test", &test}}) {
    auto loaded = loadDataset(options.dataDir, split);
    if (!loaded)
      return error(llvm::toString(loaded.takeError()));
    *data = std::move(*loaded);
    // The batch is filled with C x H x W values per image: other shapes
    // would read past the images (or train on garbage).
    if (data->channels != channels || data->height != height ||
        data->width != width)
      return error(options.dataDir + ": the " + split + " images are " +
                   llvm::Twine(data->channels) + "x" +
                   llvm::Twine(data->height) + "x" + llvm::Twine(data->width) +
                   " (channels x height x width) but the model takes " +
                   llvm::Twine(channels) + "x" + llvm::Twine(height) + "x" +
                   llvm::Twine(width));
    if (data->count == 0)
      return error(options.dataDir + ": the " + split + " set has no images");
    int64_t limit = split == "train" ? options.trainLimit : options.testLimit;
    if (limit > 0 && limit < data->count)
      data->truncate(limit);
    for (auto [index, label] : llvm::enumerate(data->labels))
      if (label >= classes)
        return error(options.dataDir + ": " + split + " label " +
                     llvm::Twine(index) + " is " + llvm::Twine(label) +
                     " but the model has " + llvm::Twine(classes) + " classes");
  }
  // The normalization: the one a checkpoint was trained with, else the
  // training images' own (normalizationFromData) or the options'.
  auto mean = module->getAttrOfType<FloatAttr>(kInputMeanAttr);
  auto std = module->getAttrOfType<FloatAttr>(kInputStdAttr);
  inputMean = options.mean;
  inputStd = options.std;
  if (mean && std) {
    inputMean = mean.getValueAsDouble();
    inputStd = std.getValueAsDouble();
  } else if (options.normalizationFromData) {
    std::tie(inputMean, inputStd) = train.statistics();
    if (inputStd == 0.0f)
      inputStd = 1.0f; // constant images: only the mean is removed
    report() << llvm::format("normalization from the training images: "
                             "mean %.6g, "
                             "std %.6g\n",
                             inputMean, inputStd);
  }
  Builder builder(module.getContext());
  module->setAttr(kInputMeanAttr, builder.getF32FloatAttr(inputMean));
  module->setAttr(kInputStdAttr, builder.getF32FloatAttr(inputStd));
  if (train.count < batch)
    return error("the training set has " + llvm::Twine(train.count) +
                 " images, fewer than one batch of " + llvm::Twine(batch));
  return success();
}

/// The images and labels of `indices` into the session's batch; the rest of
/// a partial batch is zero images.
void EpochLoop::fillBatch(const ImageDataset &data, ArrayRef<int64_t> indices) {
  int64_t pixels = data.imageSize();
  MutableArrayRef<float> images = session->images();
  MutableArrayRef<int64_t> labels = session->labels();
  std::fill(images.begin(), images.end(), 0.0f);
  std::fill(labels.begin(), labels.end(), 0);
  for (auto [row, index] : llvm::enumerate(indices)) {
    data.normalized(index, inputMean, inputStd, images.data() + row * pixels);
    labels[row] = data.labels[index];
  }
}

/// The test accuracy with fake quantization (or in FP during the StatAssist
/// warm-up); the last batch is padded with zero images whose predictions
/// are ignored. Ranks take turns with the batches and add up their counts.
FailureOr<double> EpochLoop::evaluate(bool fpWarmup) {
  int64_t batch = session->batchSize(), classes = session->numClasses();
  int64_t correct = 0;
  std::vector<int64_t> indices;
  for (int64_t start = session->rank() * batch; start < test.count;
       start += batch * session->ranks()) {
    indices.clear();
    for (int64_t i = start; i < std::min(test.count, start + batch); ++i)
      indices.push_back(i);
    fillBatch(test, indices);
    auto logits = session->predict(fpWarmup);
    if (failed(logits))
      return failure();
    for (auto [row, index] : llvm::enumerate(indices))
      correct +=
          argmax(logits->data() + row * classes, classes) == test.labels[index];
  }
  return 100.0 * session->sumOverRanks(correct) / test.count;
}

/// Writes the module with the current state to options.outputPath,
/// atomically, without the generated training functions (they are rebuilt
/// on resume, with the optimizer state kept in the sgd.momentum globals).
LogicalResult EpochLoop::save(int64_t epochsDone) {
  session->storeState(epochsDone);
  if (options.outputPath.empty() || session->rank() != 0)
    return success();
  OwningOpRef<ModuleOp> saved = session->checkpoint();
  if (llvm::Error failure = writeFileAtomically(
          options.outputPath, [&](llvm::raw_pwrite_stream &os) {
            saved->print(os);
            return llvm::Error::success();
          }))
    return error("cannot save the trained module (the previous one is "
                 "kept): " +
                 llvm::toString(std::move(failure)));
  return success();
}

/// Divergence: a non-finite loss stops training at the step that made it,
/// naming the first trainable parameter that is no longer finite; the
/// module saved after the last epoch stays as it was.
LogicalResult EpochLoop::checkFinite(float loss, int64_t epoch, int64_t step) {
  if (std::isfinite(loss))
    return success();
  std::string where =
      ("training diverged at epoch " + llvm::Twine(epoch + 1) + ", step " +
       llvm::Twine(step + 1) + ": the loss is " + llvm::formatv("{0}", loss))
          .str();
  where += session->firstNonFiniteParameter();
  if (!options.outputPath.empty() && llvm::sys::fs::exists(options.outputPath))
    where += "; " + options.outputPath + " keeps the last finite epoch";
  where += " (lower the learning rate, or check the data)";
  return error(where);
}

LogicalResult EpochLoop::run() {
  // The data is checked against the model before the (slow) compile.
  auto opened = TrainingSession::open(module, options);
  if (failed(opened))
    return failure();
  session = std::move(*opened);
  if (session->returnsLoss())
    return module.emitError()
           << "the model returns its loss from its inputs and targets: "
              "qat-train trains classifiers on labelled images; train it "
              "from Python (qat_mlir.Trainer.fit on (inputs, targets))";
  // A global batch: `batch` images for each rank, in rank order.
  int64_t batch = session->batchSize(), classes = session->numClasses();
  int64_t globalBatch = batch * session->ranks();
  if (failed(loadData(session->channels(), session->height(), session->width(),
                      classes, globalBatch)))
    return failure();
  int64_t startEpoch = session->epochsDone();
  int64_t totalEpochs = options.fpWarmupEpochs + options.epochs;
  if (startEpoch >= totalEpochs) {
    report() << "the module has already been trained for " << startEpoch
             << " epochs (of " << totalEpochs << "): nothing to do\n";
    return success();
  }
  if (failed(session->compile()))
    return failure();
  // The ranks compile at their own pace: meet before the first epoch's
  // clock starts.
  (void)session->sumOverRanks(0);
  if (session->ranks() > 1)
    report() << llvm::format("data-parallel over %d ranks: %lld images per "
                             "rank and step, global batch %lld\n",
                             session->ranks(), (long long)batch,
                             (long long)globalBatch);
  report() << llvm::format(session->loadedFromCache()
                               ? "loaded the compiled training step from the "
                                 "cache in %.1f s\n"
                               : "compiled the training step in %.1f s\n",
                           session->compileSeconds());

  // The last partial global batch is dropped.
  int64_t stepsPerEpoch = train.count / globalBatch;
  std::unique_ptr<llvm::raw_fd_ostream> log;
  if (!options.logPath.empty() && session->rank() == 0) {
    std::error_code ec;
    bool append = startEpoch > 0 && llvm::sys::fs::exists(options.logPath);
    log = std::make_unique<llvm::raw_fd_ostream>(
        options.logPath, ec,
        append ? llvm::sys::fs::OF_Append : llvm::sys::fs::OF_None);
    if (ec)
      return error("cannot write " + options.logPath + ": " + ec.message());
    if (!append)
      *log << "epoch,phase,learning_rate,train_loss,train_accuracy,"
              "test_accuracy,images_per_second,seconds\n";
  }

  bool showProgress = options.progress && session->rank() == 0 &&
                      llvm::sys::Process::StandardErrIsDisplayed();
  for (int64_t epoch = startEpoch; epoch < totalEpochs; ++epoch) {
    TrainPhase phase = session->phaseOf(epoch);
    bool warmup = phase == TrainPhase::FpWarmup;
    // The learning-rate schedule runs over each phase: the FP warm-up, then
    // (restarted) QAT.
    int64_t phaseStart = warmup ? 0 : options.fpWarmupEpochs;
    int64_t phaseEpochs = warmup ? options.fpWarmupEpochs : options.epochs;
    int64_t phaseSteps = stepsPerEpoch * phaseEpochs;
    int64_t warmupSteps = std::min<int64_t>(
        phaseSteps, std::llround(options.lrWarmupEpochs * stepsPerEpoch));
    std::vector<int64_t> order = epochOrder(options.seed, epoch, train.count);

    auto epochStart = std::chrono::steady_clock::now();
    double reducingAtStart =
        options.communicator ? options.communicator->secondsReducing() : 0;
    double lossSum = 0, lr = 0;
    int64_t correct = 0;
    for (int64_t step = 0; step < stepsPerEpoch; ++step) {
      lr = learningRateAt((epoch - phaseStart) * stepsPerEpoch + step,
                          phaseSteps, warmupSteps, options.learningRate);
      ArrayRef<int64_t> indices(
          &order[step * globalBatch + session->rank() * batch], batch);
      fillBatch(train, indices);
      auto stepLoss = session->step(phase, lr, epoch * stepsPerEpoch + step);
      if (failed(stepLoss))
        return failure();
      // The global batch's: every rank then stops at the same step.
      double loss = session->meanOverRanks(*stepLoss);
      lossSum += loss;
      ArrayRef<float> logits = session->logits();
      int64_t stepCorrect = 0;
      for (auto [row, image] : llvm::enumerate(indices))
        stepCorrect += argmax(logits.data() + row * classes, classes) ==
                       train.labels[image];
      correct += session->sumOverRanks(stepCorrect);
      // After the state results are in: the message names a parameter.
      if (failed(checkFinite(loss, epoch, step)))
        return failure();
      if (showProgress &&
          (step % std::max<int64_t>(1, stepsPerEpoch / 100) == 0 ||
           step + 1 == stepsPerEpoch))
        llvm::errs() << llvm::format(
            "\repoch %lld/%lld  step %lld/%lld  loss %.4f  accuracy %.2f%%  "
            "%.0f images/s ",
            (long long)epoch + 1, (long long)totalEpochs, (long long)step + 1,
            (long long)stepsPerEpoch, lossSum / (step + 1),
            100.0 * correct / ((step + 1) * globalBatch),
            (step + 1) * globalBatch / secondsSince(epochStart));
    }
    double seconds = secondsSince(epochStart);
    if (showProgress)
      llvm::errs() << "\n";
    // The warm-up is evaluated in FP, QAT with its fake quantization.
    auto accuracy = evaluate(warmup);
    if (failed(accuracy))
      return failure();
    double trainLoss = lossSum / stepsPerEpoch;
    double trainAccuracy = 100.0 * correct / (stepsPerEpoch * globalBatch);
    double imagesPerSecond = stepsPerEpoch * globalBatch / seconds;
    report() << llvm::format(
        "epoch %lld/%lld%s: train loss %.4f, train accuracy "
        "%.2f%%, test accuracy %.2f%%, %.0f images/s\n",
        (long long)epoch + 1, (long long)totalEpochs,
        warmup ? " (FP warm-up)" : "", trainLoss, trainAccuracy, *accuracy,
        imagesPerSecond);
    report().flush();
    if (log) {
      *log << llvm::format("%lld,%s,%.6g,%.6f,%.4f,%.4f,%.1f,%.3f\n",
                           (long long)epoch + 1, warmup ? "fp" : "train", lr,
                           trainLoss, trainAccuracy, *accuracy, imagesPerSecond,
                           seconds);
      log->flush();
      if (log->has_error()) {
        std::error_code ec = log->error();
        // A stream destroyed with its error set aborts.
        log->clear_error();
        return error("cannot write " + options.logPath + ": " + ec.message());
      }
    }
    if (session->ranks() > 1)
      report() << llvm::format(
          "epoch %lld: rank 0 spent %.1f%% of the epoch's training time in "
          "all-reductions\n",
          (long long)epoch + 1,
          100.0 * (options.communicator->secondsReducing() - reducingAtStart) /
              seconds);
    if (options.checkReplicas) {
      std::string divergence = session->replicaDivergence();
      if (!divergence.empty())
        return error("after epoch " + llvm::Twine(epoch + 1) + ": " +
                     divergence);
      report() << llvm::format("epoch %lld: the %d replicas' states are "
                               "identical\n",
                               (long long)epoch + 1, session->ranks());
    }
    if (failed(save(epoch + 1)))
      return failure();
    if (epoch + 1 == options.stopAfterEpoch)
      break;
  }
  return success();
}

} // namespace

LogicalResult mlir::qat::trainModule(ModuleOp module,
                                     const TrainOptions &options,
                                     llvm::raw_ostream &out) {
  return EpochLoop(module, options, out).run();
}
