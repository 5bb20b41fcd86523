//===- Trainer.cpp - training a module on an image data set -----*- C++ -*-===//
//
// Part of qat-mlir. The driver side of training: data, batches, the
// learning-rate schedule, state bookkeeping, evaluation, logs and
// checkpoints. Everything numeric happens in the compiled step function.
//
//===----------------------------------------------------------------------===//

#include "qat/Training/Trainer.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/ExecutionEngine/JitRunner.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Support/AtomicFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinAttributes.h"
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

/// The learning rate of step `step` (0-based) of `total`: linear warm-up
/// over `warmup` steps, then a cosine decay to 0.
double learningRateAt(int64_t step, int64_t total, int64_t warmup,
                      double peak) {
  if (step < warmup)
    return peak * static_cast<double>(step + 1) / warmup;
  double progress =
      static_cast<double>(step - warmup) / std::max<int64_t>(1, total - warmup);
  return peak * 0.5 * (1.0 + std::cos(M_PI * progress));
}

int64_t argmax(const float *row, int64_t classes) {
  return std::max_element(row, row + classes) - row;
}

struct Trainer {
  Trainer(ModuleOp module, const TrainOptions &options, llvm::raw_ostream &out)
      : module(module), options(options), out(out) {}

  ModuleOp module;
  const TrainOptions &options;
  llvm::raw_ostream &out;
  /// The images' normalization in use (loadData decides it).
  float inputMean = 0, inputStd = 1;
  std::unique_ptr<JitModule> jit;
  llvm::StringMap<NpyArray> state;
  ImageDataset train, test;
  std::string imagesName;
  int64_t batch = 0, classes = 0, channels = 0, height = 0, width = 0;
  /// The names of the trainable parameters (qat.trainable), to name the one
  /// that diverged.
  std::vector<std::string> parameters;

  LogicalResult error(const llvm::Twine &message) {
    return module.emitError(message);
  }

  LogicalResult checkOptions();
  LogicalResult checkModel();
  LogicalResult loadData();
  LogicalResult checkFinite(ArrayRef<float> losses, int64_t epoch,
                            int64_t step);
  LogicalResult build();
  void fillBatch(const ImageDataset &data, ArrayRef<int64_t> indices,
                 NpyArray &images, NpyArray *labels);
  FailureOr<double> evaluate(StringRef entry);
  LogicalResult save(int64_t epochsDone);
  LogicalResult run();
};

/// Numeric options a library caller (not only qat-train) may get wrong.
LogicalResult Trainer::checkOptions() {
  auto finite = [](double value) { return std::isfinite(value); };
  if (!finite(options.learningRate) || options.learningRate <= 0)
    return error("the learning rate must be positive and finite, not " +
                 llvm::formatv("{0}", options.learningRate));
  if (!finite(options.lrWarmupEpochs) || options.lrWarmupEpochs < 0)
    return error("the learning-rate warm-up must be a finite number of "
                 "epochs >= 0, not " +
                 llvm::formatv("{0}", options.lrWarmupEpochs));
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

LogicalResult Trainer::checkModel() {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal())
    return error("the module has no @forward to train: import the model "
                 "with qat-import --mode train");
  if (!module.lookupSymbol<func::FuncOp>("forward_eval"))
    return error("the module has no @forward_eval to evaluate with: import "
                 "the model with qat-import --mode train");
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto name = forward.getArgAttrOfType<StringAttr>(i, "qat.input");
    auto type = dyn_cast<RankedTensorType>(forward.getArgument(i).getType());
    if (name && type && type.getRank() == 4 && type.hasStaticShape()) {
      imagesName = name.getValue().str();
      batch = type.getDimSize(0);
      channels = type.getDimSize(1);
      height = type.getDimSize(2);
      width = type.getDimSize(3);
      break;
    }
  }
  if (imagesName.empty())
    return error("@forward has no static N x C x H x W image input");
  auto logits = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!logits || logits.getRank() != 2 || !logits.hasStaticShape())
    return error("@forward's first result must be static N x C logits");
  classes = logits.getDimSize(1);
  for (unsigned i = 0; i < forward.getNumArguments(); ++i)
    if (forward.getArgAttr(i, "qat.trainable"))
      if (auto name = forward.getArgAttrOfType<StringAttr>(i, "qat.state"))
        parameters.push_back(name.getValue().str());
  return success();
}

LogicalResult Trainer::loadData() {
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
    out << llvm::format("normalization from the training images: mean %.6g, "
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

/// Runs the training-step pipeline (QAT preparation with a qconfig, the
/// steps, GradBoost, StatAssist), compiles the steps and the evaluation
/// forward, and loads the state from the globals.
LogicalResult Trainer::build() {
  TrainStepPipelineOptions pipeline;
  // A checkpoint was prepared by the run that saved it.
  pipeline.prepare =
      !options.qconfigWeights.empty() && !module->hasAttr(kTrainedEpochs);
  pipeline.qconfig.weights = options.qconfigWeights;
  pipeline.qconfig.activations = options.qconfigActivations;
  pipeline.frozenBatchNorm = options.freezeBatchNormAfterEpochs > 0;
  pipeline.targetExact = options.targetExact;
  pipeline.optimizer.momentum = options.momentum;
  pipeline.optimizer.nesterov = options.nesterov;
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
  PassManager pm(module.getContext());
  buildTrainStepPipeline(pm, pipeline);
  if (failed(pm.run(module)))
    return failure();

  OwningOpRef<ModuleOp> lowered = module.clone();
  JitOptions jitOptions;
  jitOptions.optLevel = options.optLevel;
  jitOptions.sharedLibs = options.sharedLibs;
  jitOptions.threads = options.threads;
  jitOptions.cacheDir = options.cacheDir;
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
      if (spec.role != "state" || state.count(spec.name))
        continue;
      auto global = module.lookupSymbol<ml_program::GlobalOp>(spec.name);
      if (!global || !global.getValue() ||
          !isa<DenseElementsAttr>(*global.getValue()))
        return error("the state '" + spec.name +
                     "' has no global with a dense value");
      state[spec.name] = arrayOf(global, spec);
    }
  return success();
}

void Trainer::fillBatch(const ImageDataset &data, ArrayRef<int64_t> indices,
                        NpyArray &images, NpyArray *labels) {
  int64_t pixels = data.imageSize();
  auto *imageData = reinterpret_cast<float *>(images.data.data());
  std::fill(imageData, imageData + batch * pixels, 0.0f);
  for (auto [row, index] : llvm::enumerate(indices)) {
    data.normalized(index, inputMean, inputStd, imageData + row * pixels);
    if (labels)
      reinterpret_cast<int64_t *>(labels->data.data())[row] =
          data.labels[index];
  }
}

/// The test accuracy with `entry` (forward_eval: fake-quant or fp32;
/// forward_eval_warmup: FP during the StatAssist warm-up); the last
/// batch is padded with zero images whose predictions are ignored.
FailureOr<double> Trainer::evaluate(StringRef entry) {
  const FunctionSpec &spec = jit->spec(entry);
  std::vector<NpyArray> arguments(spec.arguments.size());
  std::vector<NpyArray> results;
  int64_t correct = 0;
  std::vector<int64_t> indices;
  for (int64_t start = 0; start < test.count; start += batch) {
    indices.clear();
    for (int64_t i = start; i < std::min(test.count, start + batch); ++i)
      indices.push_back(i);
    for (auto [index, argument] : llvm::enumerate(spec.arguments)) {
      if (argument.role == "state") {
        arguments[index] = state[argument.name];
      } else if (argument.name == imagesName) {
        // fillBatch overwrites every element: allocate once.
        if (arguments[index].data.empty())
          arguments[index] =
              NpyArray::zeros(NpyElementType::Float32, argument.shape);
        fillBatch(test, indices, arguments[index], nullptr);
      } else {
        return error("@" + entry + " takes an input '" + argument.name +
                     "' that evaluation cannot provide");
      }
    }
    if (failed(jit->call(entry, arguments, results)))
      return failure();
    auto *logits = reinterpret_cast<const float *>(results[0].data.data());
    for (auto [row, index] : llvm::enumerate(indices))
      correct += argmax(logits + row * classes, classes) == test.labels[index];
  }
  return 100.0 * correct / test.count;
}

/// Writes the module with the current state to options.outputPath,
/// atomically, without the generated training functions (they are rebuilt
/// on resume, with the optimizer state kept in the sgd.momentum globals).
LogicalResult Trainer::save(int64_t epochsDone) {
  for (auto &entry : state) {
    auto global = module.lookupSymbol<ml_program::GlobalOp>(entry.getKey());
    auto type = cast<RankedTensorType>(global.getType());
    const NpyArray &array = entry.getValue();
    global.setValueAttr(DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(array.data.data(), array.data.size())));
  }
  Builder builder(module.getContext());
  module->setAttr(kTrainedEpochs, builder.getI64IntegerAttr(epochsDone));
  if (options.outputPath.empty())
    return success();
  OwningOpRef<ModuleOp> saved = module.clone();
  for (StringRef name : trainStepFunctionNames())
    if (Operation *func = saved->lookupSymbol(name))
      func->erase();
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
LogicalResult Trainer::checkFinite(ArrayRef<float> losses, int64_t epoch,
                                   int64_t step) {
  if (llvm::all_of(losses, [](float loss) { return std::isfinite(loss); }))
    return success();
  std::string where = ("training diverged at epoch " + llvm::Twine(epoch + 1) +
                       ", step " + llvm::Twine(step + 1) + ": the loss is " +
                       llvm::formatv("{0}", losses.front()))
                          .str();
  for (const std::string &name : parameters) {
    auto it = state.find(name);
    if (it == state.end() || it->second.elementType != NpyElementType::Float32)
      continue;
    auto values =
        ArrayRef<float>(reinterpret_cast<const float *>(it->second.data.data()),
                        it->second.data.size() / sizeof(float));
    auto bad = llvm::find_if(values, [](float v) { return !std::isfinite(v); });
    if (bad != values.end()) {
      where += (" and parameter '" + name + "' is " +
                llvm::formatv("{0}", *bad) + " after the update")
                   .str();
      break;
    }
  }
  if (!options.outputPath.empty() && llvm::sys::fs::exists(options.outputPath))
    where += "; " + options.outputPath + " keeps the last finite epoch";
  where += " (lower the learning rate, or check the data)";
  return error(where);
}

LogicalResult Trainer::run() {
  if (failed(checkOptions()) || failed(checkModel()) || failed(loadData()))
    return failure();
  int64_t startEpoch = 0;
  if (auto done = module->getAttrOfType<IntegerAttr>(kTrainedEpochs))
    startEpoch = done.getInt();
  int64_t totalEpochs = options.fpWarmupEpochs + options.epochs;
  if (startEpoch >= totalEpochs) {
    out << "the module has already been trained for " << startEpoch
        << " epochs (of " << totalEpochs << "): nothing to do\n";
    return success();
  }
  if (failed(build()))
    return failure();
  out << llvm::format(jit->loadedFromCache()
                          ? "loaded the compiled training step from the "
                            "cache in %.1f s\n"
                          : "compiled the training step in %.1f s\n",
                      jit->compileSeconds());

  int64_t stepsPerEpoch = train.count / batch; // the last partial batch is
                                               // dropped
  // The learning-rate schedule runs over each phase: the FP warm-up, then
  // (restarted) QAT.
  auto phaseOf = [&](int64_t epoch) {
    bool warmup = epoch < options.fpWarmupEpochs;
    int64_t first = warmup ? 0 : options.fpWarmupEpochs;
    int64_t length = warmup ? options.fpWarmupEpochs : options.epochs;
    return std::make_tuple(warmup, first, length);
  };

  std::unique_ptr<llvm::raw_fd_ostream> log;
  if (!options.logPath.empty()) {
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

  std::vector<NpyArray> arguments;
  std::vector<NpyArray> results;
  std::vector<int64_t> order(train.count);
  bool showProgress =
      options.progress && llvm::sys::Process::StandardErrIsDisplayed();
  for (int64_t epoch = startEpoch; epoch < totalEpochs; ++epoch) {
    auto [warmup, phaseStart, phaseEpochs] = phaseOf(epoch);
    bool frozen =
        options.freezeBatchNormAfterEpochs > 0 && !warmup &&
        epoch - options.fpWarmupEpochs >= options.freezeBatchNormAfterEpochs;
    StringRef entry = warmup   ? "train_step_warmup"
                      : frozen ? "train_step_frozen_bn"
                               : "train_step";
    const FunctionSpec &spec = jit->spec(entry);
    // Fresh per epoch: the warm-up and QAT steps take different arguments.
    arguments.assign(spec.arguments.size(), NpyArray());
    results.clear();
    int64_t phaseSteps = stepsPerEpoch * phaseEpochs;
    int64_t warmupSteps = std::min<int64_t>(
        phaseSteps, std::llround(options.lrWarmupEpochs * stepsPerEpoch));
    // The order depends only on (seed, epoch): a resumed run sees the same
    // batches as an uninterrupted one.
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(options.seed * 0x9E3779B97F4A7C15ull + epoch);
    for (int64_t i = train.count - 1; i > 0; --i)
      std::swap(order[i], order[rng() % (i + 1)]);

    auto epochStart = std::chrono::steady_clock::now();
    double lossSum = 0, lr = 0;
    int64_t correct = 0;
    for (int64_t step = 0; step < stepsPerEpoch; ++step) {
      int64_t globalStep = epoch * stepsPerEpoch + step;
      lr = learningRateAt((epoch - phaseStart) * stepsPerEpoch + step,
                          phaseSteps, warmupSteps, options.learningRate);
      ArrayRef<int64_t> indices(&order[step * batch], batch);
      for (auto [index, argument] : llvm::enumerate(spec.arguments)) {
        NpyArray &value = arguments[index];
        if (argument.role == "state") {
          value = state[argument.name];
        } else if (argument.name == imagesName) {
          if (value.data.empty()) // fillBatch overwrites every element
            value = NpyArray::zeros(NpyElementType::Float32, argument.shape);
          fillBatch(train, indices, value, nullptr);
        } else if (argument.name == "labels") {
          value = NpyArray::zeros(NpyElementType::Int64, argument.shape);
          for (auto [row, image] : llvm::enumerate(indices))
            reinterpret_cast<int64_t *>(value.data.data())[row] =
                train.labels[image];
        } else if (argument.name == "learning_rate") {
          value = NpyArray::zeros(NpyElementType::Float32, {});
          *reinterpret_cast<float *>(value.data.data()) = lr;
        } else if (argument.name == "grad_boost_noise") {
          // Noise in every step: there is no FP warm-up phase yet.
          value = NpyArray::zeros(NpyElementType::Float32, {});
          *reinterpret_cast<float *>(value.data.data()) = 1.0f;
        } else if (argument.name == "grad_boost_seed") {
          value = NpyArray::zeros(NpyElementType::Int64, {});
          *reinterpret_cast<uint64_t *>(value.data.data()) = options.seed;
        } else if (argument.name == "rng_seed") {
          value = NpyArray::zeros(NpyElementType::Int64, {});
          *reinterpret_cast<uint64_t *>(value.data.data()) =
              options.seed * 0xBF58476D1CE4E5B9ull + globalStep;
        } else {
          return error("the training step takes an input '" + argument.name +
                       "' that the trainer cannot provide");
        }
      }
      if (failed(jit->call(entry, arguments, results)))
        return failure();
      float stepLoss = 0.0f;
      for (auto [index, result] : llvm::enumerate(spec.results)) {
        if (result.role == "state") {
          // Swap rather than copy: the old buffer, of the same shape,
          // receives this result in the next call.
          std::swap(state[result.name], results[index]);
        } else if (result.name == "loss") {
          stepLoss =
              *reinterpret_cast<const float *>(results[index].data.data());
          lossSum += stepLoss;
        } else if (result.name == "logits") {
          auto *logits =
              reinterpret_cast<const float *>(results[index].data.data());
          for (auto [row, image] : llvm::enumerate(indices))
            correct +=
                argmax(logits + row * classes, classes) == train.labels[image];
        }
      }
      // After the state results are in: the message names a parameter.
      if (failed(checkFinite(stepLoss, epoch, step)))
        return failure();
      if (showProgress &&
          (step % std::max<int64_t>(1, stepsPerEpoch / 100) == 0 ||
           step + 1 == stepsPerEpoch))
        llvm::errs() << llvm::format(
            "\repoch %lld/%lld  step %lld/%lld  loss %.4f  accuracy %.2f%%  "
            "%.0f images/s ",
            (long long)epoch + 1, (long long)totalEpochs, (long long)step + 1,
            (long long)stepsPerEpoch, lossSum / (step + 1),
            100.0 * correct / ((step + 1) * batch),
            (step + 1) * batch / secondsSince(epochStart));
    }
    double seconds = secondsSince(epochStart);
    if (showProgress)
      llvm::errs() << "\n";
    // The warm-up is evaluated in FP, QAT with its fake quantization.
    auto accuracy = evaluate(warmup ? "forward_eval_warmup" : "forward_eval");
    if (failed(accuracy))
      return failure();
    double trainLoss = lossSum / stepsPerEpoch;
    double trainAccuracy = 100.0 * correct / (stepsPerEpoch * batch);
    double imagesPerSecond = stepsPerEpoch * batch / seconds;
    out << llvm::format("epoch %lld/%lld%s: train loss %.4f, train accuracy "
                        "%.2f%%, test accuracy %.2f%%, %.0f images/s\n",
                        (long long)epoch + 1, (long long)totalEpochs,
                        warmup ? " (FP warm-up)" : "", trainLoss, trainAccuracy,
                        *accuracy, imagesPerSecond);
    out.flush();
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
    if (failed(save(epoch + 1)))
      return failure();
  }
  return success();
}

} // namespace

LogicalResult mlir::qat::trainModule(ModuleOp module,
                                     const TrainOptions &options,
                                     llvm::raw_ostream &out) {
  Trainer trainer(module, options, out);
  return trainer.run();
}
