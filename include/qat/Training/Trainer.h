//===- Trainer.h - training a module on an image data set -------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_TRAINING_TRAINER_H
#define QAT_TRAINING_TRAINER_H

#include "qat/Training/Dataset.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

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
  /// SGD, as --qat-optimizer takes it.
  double momentum = 0.9;
  bool nesterov = true;
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
};

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
