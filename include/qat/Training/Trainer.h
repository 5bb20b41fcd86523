//===- Trainer.h - training a module on an image data set -------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_TRAINING_TRAINER_H
#define QAT_TRAINING_TRAINER_H

#include "qat/ExecutionEngine/JitRunner.h"
#include "qat/Training/Communicator.h"
#include "qat/Training/Dataset.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

#include <string>
#include <vector>

namespace mlir::qat {

struct TrainOptions {
  /// A directory of IDX files, or an .npz file (loadDataset).
  std::string dataDir = kFashionMnistDir;
  /// The images' normalization, (x - mean) / std; with
  /// `normalizationFromData`, the training images' own mean and standard
  /// deviation instead. A module records the one it was trained with
  /// (kInputMeanAttr, kInputStdAttr) and a resumed run keeps it.
  float mean = kFashionMnistMean, std = kFashionMnistStd;
  bool normalizationFromData = false;
  /// Epochs of training (of QAT after any FP warm-up); a module saved after
  /// epoch k (warm-up included) resumes at epoch k + 1.
  int64_t epochs = 3;
  /// --qat-prepare with this qconfig before training: weights
  /// "per-tensor" or "per-channel" (int8 symmetric), activations "uint8" or
  /// "int8"; empty `qconfigWeights`: train the model as given (fp32, or
  /// prepared for QAT already).
  std::string qconfigWeights, qconfigActivations = "uint8";
  /// Target-exact training (--qat-fold-batchnorm, --qat-target-exact after
  /// preparation): quantized layers output the integer arithmetic that
  /// qat-compile deploys, so the trained and compiled models agree exactly.
  bool targetExact = false;
  /// After this many QAT epochs, batch norms normalize with their running
  /// statistics and stop updating them (PyTorch's freeze_bn_stats), through
  /// a second step compiled from a frozen twin of @forward. 0: never.
  int64_t freezeBatchNormAfterEpochs = 0;
  /// StatAssist: epochs of FP warm-up (fake quantization bypassed, by the
  /// step --qat-stat-assist derives) before the `epochs` of QAT; the
  /// learning-rate schedule restarts for QAT. 0: no warm-up. Needs a model
  /// with fake quantization.
  int64_t fpWarmupEpochs = 0;
  /// QAT starts from the observer ranges of the warm-up (an extension; the
  /// method's reference starts with empty observers).
  bool inheritObservers = false;
  /// Peak learning rate, reached after `lrWarmupEpochs` of linear warm-up
  /// from 0 and then decayed to 0 by a cosine over the remaining epochs.
  double learningRate = 5e-3;
  double lrWarmupEpochs = 1.0;
  /// Seeds the shuffling of each epoch and training-mode dropout.
  uint64_t seed = 0;
  /// Use only the first N training / test images (0: all).
  int64_t trainLimit = 0, testLimit = 0;
  /// The optimizer, as --qat-optimizer takes it: "sgd" (momentum,
  /// nesterov) or "adam" (adamBeta1, adamBeta2, adamEpsilon); with
  /// `gradBoost`, the method's QSGD or QAdam.
  std::string optimizer = "sgd";
  double momentum = 0.9;
  bool nesterov = true;
  double adamBeta1 = 0.9, adamBeta2 = 0.999, adamEpsilon = 1e-8;
  double weightDecayDepthwise = 0.0, weightDecayConv = 1e-5,
         weightDecayOther = 1e-7;
  /// GradBoost (--qat-grad-boost) with these options; its noise is seeded
  /// by `seed`.
  bool gradBoost = false;
  std::string gradBoostVariant = "reference";
  float gradBoostBeta = 0.9f, gradBoostDecay = 1e-2f, gradBoostClip = 1e-3f,
        gradBoostCoinProbability = 0.5f;
  unsigned optLevel = 2;
  /// Threads per large op of the compiled step (OpenMP; sharedLibs must
  /// then hold libomp).
  unsigned threads = 1;
  /// Shared libraries the compiled code needs (mlir_c_runner_utils).
  std::vector<std::string> sharedLibs;
  /// Directory of the compile cache (JitOptions::cacheDir); empty: none.
  std::string cacheDir;
  /// Where to save the trained module after every epoch (empty: nowhere),
  /// and the CSV log of epochs (empty: none).
  std::string outputPath, logPath;
  /// A progress line on stderr during each epoch.
  bool progress = true;
  /// Stop once this many epochs (warm-up included) are done, as an
  /// interrupted run would, keeping the schedule of the whole run; 0: run
  /// them all.
  int64_t stopAfterEpoch = 0;
  /// Data-parallel training: the processes that train together (not
  /// owned; null or one process: none). Every rank runs the same session on
  /// its share of each global batch of `batchSize() * size()` images, and
  /// the compiled step reduces the gradients, observer ranges and batch-norm
  /// statistics over the ranks (--qat-data-parallel-forward), so every rank
  /// keeps the same state. Only rank 0 writes outputs.
  Communicator *communicator = nullptr;
  /// ... with batch norms normalizing over the global batch (SyncBatchNorm)
  /// rather than each rank's share (PyTorch's default).
  bool syncBatchNorm = false;
  /// ... and a check after every epoch that the ranks' states are
  /// identical (hashes of every tensor), stopping with an error naming the
  /// first that differs.
  bool checkReplicas = false;
  /// The batch of each step of this process: the module's is changed to it
  /// (--qat-rebatch) when it differs, so that a module trained with one
  /// rank count resumes with another; 0: the module's.
  int64_t replicaBatch = 0;
};

/// Which compiled step a training step runs.
enum class TrainPhase {
  /// StatAssist's FP warm-up: fake quantization bypassed.
  FpWarmup,
  /// QAT, batch norms on batch statistics.
  Qat,
  /// QAT with batch norms frozen on their running statistics.
  QatFrozenBatchNorm,
};

/// The compiled training steps of a module and the training state they
/// update: what qat-train's epoch loop and the Python API's Trainer both
/// drive, one batch at a time. The caller fills images() (and labels())
/// with a batch, already normalized, and calls step() or predict(); the
/// state stays in the session until storeState() writes it back into the
/// module's globals.
class TrainingSession {
public:
  /// Checks `options` and `module` (as qat-import --mode train makes it:
  /// @forward with qat.trainable parameters, @forward_eval), runs the
  /// training-step pipeline on `module` (QAT preparation with a qconfig,
  /// the steps, GradBoost, StatAssist) and compiles the steps and the
  /// evaluation forward with the JIT. Errors are emitted on `module`.
  static FailureOr<std::unique_ptr<TrainingSession>>
  create(ModuleOp module, const TrainOptions &options);
  /// create() in two parts: the checks (and the model's shapes), cheap, so
  /// that a caller can check its data before compiling; then compile().
  static FailureOr<std::unique_ptr<TrainingSession>>
  open(ModuleOp module, const TrainOptions &options);
  LogicalResult compile();
  ~TrainingSession();

  int64_t batchSize() const { return batch; }
  /// The classes of a classifier's logits; 0 for a model that returns its
  /// loss.
  int64_t numClasses() const { return classes; }
  /// Whether @forward returns its loss (a 0-d f32 first result) from its
  /// inputs and targets, rather than logits for the built-in cross-entropy.
  bool returnsLoss() const { return lossModel; }
  /// The full shape of the first input (the images): batch first.
  ArrayRef<int64_t> inputShape() const { return imageShape; }
  /// A model that returns its loss: its other inputs (the targets), by
  /// name, each a buffer of the input's shape and element type (f32 or
  /// i64) that the caller fills before step() (and predict(), whose
  /// outputs do not depend on them).
  ArrayRef<std::string> targetNames() const { return targetInputNames; }
  NpyArray &target(size_t index) { return targetBatches[index]; }
  /// The image input of @forward, C x H x W, and its argument name.
  int64_t channels() const { return imageShape[1]; }
  int64_t height() const { return imageShape[2]; }
  int64_t width() const { return imageShape[3]; }
  /// Epochs the module was trained for before this session (its
  /// qat.trained_epochs attribute).
  int64_t epochsDone() const { return startEpoch; }
  double compileSeconds() const;
  bool loadedFromCache() const;

  /// The next batch: batch x C x H x W normalized images and batch labels.
  MutableArrayRef<float> images();
  MutableArrayRef<int64_t> labels();
  /// The phase of 0-based epoch `epoch` under the session's options.
  TrainPhase phaseOf(int64_t epoch) const;

  /// One optimizer step on images() and labels() with `learningRate`;
  /// `globalStep` (0-based, over the whole run) seeds training-mode
  /// dropout. Returns the mean loss of the batch; logits() then holds the
  /// batch's logits. The phase must be one the session compiled.
  FailureOr<float> step(TrainPhase phase, double learningRate,
                        int64_t globalStep);
  /// The evaluation forward on images(): with fake quantization, or in FP
  /// (`fpWarmup`, the StatAssist warm-up's). Returns the logits (of a
  /// model that returns its loss: its first other output, empty if none;
  /// lastLoss() is then the evaluation loss).
  FailureOr<ArrayRef<float>> predict(bool fpWarmup);
  /// batch x classes logits of the last step() or predict() (a model that
  /// returns its loss: its first other output, of outputShape()).
  ArrayRef<float> logits() const;
  ArrayRef<int64_t> outputShape() const;
  /// The loss of the last step() or (a model that returns its loss)
  /// predict().
  float lastLoss() const { return loss; }

  /// The training state by global name: parameters, buffers, observer
  /// ranges, optimizer and GradBoost state.
  const llvm::StringMap<NpyArray> &state() const { return stateArrays; }
  /// Replaces the state entry `name` with `value` of the same element type
  /// and shape: one network shared by two sessions (a GAN's discriminator,
  /// trained in one and frozen inside the other's loss).
  LogicalResult setState(llvm::StringRef name, const NpyArray &value);
  /// After a non-finite loss: the first trainable parameter that is no
  /// longer finite, as " and parameter 'p' is nan after the update", or "".
  std::string firstNonFiniteParameter() const;
  /// This process's rank and the number of ranks (0 and 1 without a
  /// communicator).
  int rank() const;
  int ranks() const;
  /// With several ranks: "" if every rank holds the same state, else a
  /// message naming the first tensor (by name) whose bits differ from rank
  /// 0's and the rank. Every rank must call it.
  std::string replicaDivergence() const;
  /// The mean of each rank's `value` (of the global batch, whose shares
  /// are equal) and the sum of each rank's `count`; `value` and `count`
  /// themselves on one process. Every rank must call them, in the same
  /// order.
  double meanOverRanks(float value) const;
  int64_t sumOverRanks(int64_t count) const;
  /// Writes the state into the module's globals and records `epochsDone`
  /// (qat.trained_epochs), so that the module resumes after them.
  void storeState(int64_t epochsDone);
  /// The module as a checkpoint (storeState first): a copy without the
  /// generated training functions, which a resumed run rebuilds.
  OwningOpRef<ModuleOp> checkpoint() const;

private:
  TrainingSession(ModuleOp module, const TrainOptions &options)
      : module(module), options(options) {}
  LogicalResult error(const llvm::Twine &message);
  LogicalResult checkOptions();
  LogicalResult checkModel();
  LogicalResult rebatch(int64_t size);
  /// Calls `entry` with the batch and the state; with `updateState`, its
  /// state results replace the state (a step's; evaluation changes none).
  LogicalResult call(StringRef entry, double learningRate, int64_t globalStep,
                     bool updateState);

  ModuleOp module;
  TrainOptions options;
  std::unique_ptr<JitModule> jit;
  llvm::StringMap<NpyArray> stateArrays;
  /// The batch, and the arguments and results of the last call.
  NpyArray imageBatch, labelBatch;
  std::vector<NpyArray> arguments, results;
  std::string imagesName;
  std::vector<int64_t> imageShape;
  int64_t batch = 0, classes = 0, startEpoch = 0;
  float loss = 0;
  bool lossModel = false;
  std::vector<std::string> targetInputNames;
  std::vector<NpyArray> targetBatches;
  /// The result index of the logits in the last call.
  int64_t logitsResult = -1;
  /// The names of the trainable parameters (qat.trainable), to name the
  /// one that diverged.
  std::vector<std::string> parameters;
};

/// The learning rate of step `step` (0-based) of a phase of `total` steps:
/// linear warm-up from 0 over `warmup` steps to `peak`, then a cosine decay
/// to 0.
double learningRateAt(int64_t step, int64_t total, int64_t warmup, double peak);

/// The order of the training images in epoch `epoch` (0-based): a
/// Fisher-Yates shuffle of 0..count-1 by mt19937_64 seeded from (seed,
/// epoch), so a resumed run sees the same batches as an uninterrupted one.
std::vector<int64_t> epochOrder(uint64_t seed, int64_t epoch, int64_t count);

/// Trains `module` (as qat-import --mode train makes it: @forward with
/// qat.trainable parameters, @forward_eval) on the data set: builds the
/// training step with --qat-generate-backward and --qat-optimizer, compiles
/// it with the JIT, and runs the epochs, evaluating the test set after each.
/// The module's globals then hold the trained state, including the momentum
/// buffers (`sgd.momentum.*`), and its `qat.trained_epochs` attribute counts
/// the epochs done. Writes a summary line per epoch to `out`.
LogicalResult trainModule(ModuleOp module, const TrainOptions &options,
                          llvm::raw_ostream &out);

} // namespace mlir::qat

#endif // QAT_TRAINING_TRAINER_H
