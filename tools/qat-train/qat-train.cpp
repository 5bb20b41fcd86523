//===- qat-train.cpp - train a model with compiled training steps -*- C++
//-*-===//
//
// Part of qat-mlir.
//
//   qat-train MODEL.pt|MODEL.mlir -o trained.mlir [--epochs 3] [--lr 5e-3]
//             [--batch-size 64] [--seed 0] [--log train.csv] ...
//
// A .pt model is imported in training mode with the batch size given and
// the images' shape of the data (1 x 28 x 28 for IDX); a
// .mlir model (qat-import --mode train, or a module this tool saved) is
// trained as is, and resumes after the epochs it records.
//
//===----------------------------------------------------------------------===//

#include "qat/ExecutionEngine/CompileCache.h"
#include "qat/ExecutionEngine/JitRunner.h"
#include "qat/Import/Torch/TorchImporter.h"
#include "qat/InitAll.h"
#include "qat/Support/AtomicFile.h"
#include "qat/Support/InputChecks.h"
#include "qat/Training/Trainer.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory toolOptions("qat-train options");
static cl::opt<std::string>
    inputFile(cl::Positional, cl::desc("<model: TorchScript .pt or .mlir>"),
              cl::Required, cl::cat(toolOptions));
static cl::opt<std::string>
    outputFile("o", cl::desc("Save the trained module here after each epoch"),
               cl::value_desc("file"), cl::cat(toolOptions));
static cl::opt<std::string> dataDir(
    "data",
    cl::desc("The data set: a directory of IDX files (MNIST's layout), or an "
             ".npz with train_images, train_labels, test_images and "
             "test_labels (images N x C x H x W or N x H x W, uint8 or "
             "float32; integer labels), normalized by its training images' "
             "mean and standard deviation"),
    cl::init(qat::kFashionMnistDir), cl::cat(toolOptions));
static cl::opt<int64_t> epochs("epochs", cl::desc("Epochs in total"),
                               cl::init(3), cl::cat(toolOptions));
static cl::opt<int64_t>
    batchSize("batch-size",
              cl::desc("Images per step (for .pt models; a .mlir model has "
                       "its own). With --distributed, the global batch, "
                       "divided among the ranks; a .mlir model given it is "
                       "rebatched to its share"),
              cl::init(64), cl::cat(toolOptions));
static cl::opt<double> learningRate("lr", cl::desc("Peak learning rate"),
                                    cl::init(5e-3), cl::cat(toolOptions));
static cl::opt<double>
    warmupEpochs("lr-warmup-epochs",
                 cl::desc("Epochs of linear learning-rate warm-up before "
                          "the cosine decay"),
                 cl::init(1.0), cl::cat(toolOptions));
static cl::opt<std::string>
    optimizer("optimizer", cl::init("sgd"),
              cl::desc("sgd (momentum, nesterov) or adam (adam-beta1, "
                       "adam-beta2, adam-epsilon); with --grad-boost: QSGD "
                       "or QAdam"),
              cl::cat(toolOptions));
static cl::opt<double> adamBeta1("adam-beta1", cl::init(0.9),
                                 cl::desc("Adam's first-moment factor"),
                                 cl::cat(toolOptions));
static cl::opt<double> adamBeta2("adam-beta2", cl::init(0.999),
                                 cl::desc("Adam's second-moment factor"),
                                 cl::cat(toolOptions));
static cl::opt<double> adamEpsilon("adam-epsilon", cl::init(1e-8),
                                   cl::desc("Adam's denominator term"),
                                   cl::cat(toolOptions));
static cl::opt<double> momentum("momentum", cl::init(0.9),
                                cl::desc("SGD momentum"), cl::cat(toolOptions));
static cl::opt<bool> nesterov("nesterov", cl::init(true),
                              cl::desc("Nesterov momentum"),
                              cl::cat(toolOptions));
static cl::opt<double> wdDepthwise("weight-decay-depthwise", cl::init(0.0),
                                   cl::desc("Weight decay of depthwise "
                                            "convolution weights"),
                                   cl::cat(toolOptions));
static cl::opt<double> wdConv("weight-decay-conv", cl::init(1e-5),
                              cl::desc("Weight decay of other 4-D weights"),
                              cl::cat(toolOptions));
static cl::opt<double> wdOther("weight-decay-other", cl::init(1e-7),
                               cl::desc("Weight decay of other parameters"),
                               cl::cat(toolOptions));
static cl::opt<std::string> qconfig(
    "qconfig",
    cl::desc("Prepare an fp32 model for QAT first (--qat-prepare): weights "
             "per-tensor (int8 symmetric, the paper's qnnpack setting) or "
             "per-channel; default: train the model as given"),
    cl::value_desc("per-tensor|per-channel"), cl::cat(toolOptions));
static cl::opt<std::string>
    qconfigActivations("qconfig-activations", cl::init("uint8"),
                       cl::desc("Activations of --qconfig: uint8, uint7 "
                                "([0, 127], PyTorch's reduce_range: every "
                                "layer provably fits AVX2's fast vpmaddubsw "
                                "kernel) or int8 (affine, per tensor)"),
                       cl::cat(toolOptions));
static cl::opt<int64_t> freezeBatchNormAfter(
    "freeze-bn-after-epochs",
    cl::desc("After N QAT epochs, batch norms use and keep their running "
             "statistics (freeze_bn_stats; 0: never)"),
    cl::init(0), cl::cat(toolOptions));
static cl::opt<bool> targetExact(
    "target-exact",
    cl::desc("Quantized layers compute the deployed integer arithmetic "
             "(qat-compile's int8 code then gives the same outputs)"),
    cl::cat(toolOptions));
static cl::opt<int64_t>
    fpWarmupEpochs("fp-warmup-epochs",
                   cl::desc("StatAssist: epochs of FP warm-up before the QAT "
                            "epochs (a model with fake quantization)"),
                   cl::init(0), cl::cat(toolOptions));
static cl::opt<bool>
    inheritObservers("inherit-observers",
                     cl::desc("QAT starts from the warm-up's observer ranges"),
                     cl::cat(toolOptions));
static cl::opt<bool> gradBoost("grad-boost",
                               cl::desc("GradBoost the gradients"),
                               cl::cat(toolOptions));
static cl::opt<std::string>
    gradBoostVariant("grad-boost-variant", cl::init("reference"),
                     cl::desc("reference or corrected bias correction"),
                     cl::cat(toolOptions));
static cl::opt<float> gradBoostBeta("grad-boost-beta", cl::init(0.9f),
                                    cl::desc("GradBoost statistics' beta"),
                                    cl::cat(toolOptions));
static cl::opt<float> gradBoostDecay("grad-boost-decay", cl::init(1e-2f),
                                     cl::desc("GradBoost noise decay"),
                                     cl::cat(toolOptions));
static cl::opt<float> gradBoostClip("grad-boost-clip", cl::init(1e-3f),
                                    cl::desc("GradBoost noise clip"),
                                    cl::cat(toolOptions));
static cl::opt<float>
    gradBoostCoin("grad-boost-coin-probability", cl::init(0.5f),
                  cl::desc("GradBoost coin probability (1: no coin toss)"),
                  cl::cat(toolOptions));
static cl::opt<uint64_t>
    seed("seed", cl::desc("Seed of the shuffling, dropout and GradBoost noise"),
         cl::init(0), cl::cat(toolOptions));
static cl::opt<int64_t>
    trainLimit("train-limit",
               cl::desc("Train on the first N images only (0: all)"),
               cl::init(0), cl::cat(toolOptions));
static cl::opt<int64_t>
    testLimit("test-limit",
              cl::desc("Evaluate on the first N test images only (0: all)"),
              cl::init(0), cl::cat(toolOptions));
static cl::opt<std::string> logFile("log", cl::desc("CSV log of the epochs"),
                                    cl::value_desc("file"),
                                    cl::cat(toolOptions));
static cl::opt<unsigned>
    threads("num-threads",
            cl::desc("Threads the compiled step runs on (OpenMP; default: "
                     "both cores of the development machine)"),
            cl::init(2), cl::cat(toolOptions));
static cl::opt<std::string> cacheDir("cache-dir",
                                     cl::desc(qat::kCompileCacheDirHelp),
                                     cl::value_desc("directory"),
                                     cl::cat(toolOptions));
static cl::opt<unsigned> optLevel("O", cl::desc("LLVM optimization level"),
                                  cl::Prefix, cl::init(2),
                                  cl::cat(toolOptions));
static cl::opt<bool> noProgress("no-progress",
                                cl::desc("No progress line on stderr"),
                                cl::cat(toolOptions));
static cl::opt<int64_t> stopAfterEpoch(
    "stop-after-epoch",
    cl::desc("Stop once N epochs (warm-up included) are done, keeping the "
             "whole run's learning-rate schedule, as an interrupted run "
             "would; the saved module resumes where it stopped (0: run "
             "them all)"),
    cl::init(0), cl::cat(toolOptions));
static cl::opt<bool> distributed(
    "distributed",
    cl::desc("Data-parallel training over the ranks of mpirun -np N: each "
             "rank steps on its share of every global batch, gradients, "
             "observer ranges and batch-norm statistics are reduced over "
             "the ranks, and rank 0 alone prints and writes files"),
    cl::cat(toolOptions));
static cl::opt<bool> syncBatchNorm(
    "sync-batch-norm",
    cl::desc("With --distributed: batch norms normalize with the global "
             "batch's statistics (default: each rank's own, as PyTorch's "
             "DistributedDataParallel; the running statistics are then "
             "averaged over the ranks)"),
    cl::cat(toolOptions));
static cl::opt<bool> checkReplicas(
    "check-replicas",
    cl::desc("With --distributed: after every epoch, compare every rank's "
             "state with rank 0's (hashes of each tensor) and stop with an "
             "error if one differs"),
    cl::cat(toolOptions));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "qat-train") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  qat::keepFreedMemoryInProcess();
  // --help lists this tool's options, not the LLVM library's.
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(
      argc, argv, "qat-mlir: train a model with compiled training steps\n");
  if (optLevel > 3)
    return fail("-O must be 0, 1, 2 or 3");
  if (fpWarmupEpochs < 0 || freezeBatchNormAfter < 0)
    return fail("--fp-warmup-epochs and --freeze-bn-after-epochs must not be "
                "negative");
  if (stopAfterEpoch < 0)
    return fail("--stop-after-epoch must not be negative");
  if (epochs < 1 || batchSize < 1 || !(learningRate > 0) || warmupEpochs < 0)
    return fail("--epochs and --batch-size must be at least 1, --lr "
                "positive and --lr-warmup-epochs not negative");

  for (const std::string &output : {outputFile.getValue(), logFile.getValue()})
    if (qat::isSameFile(inputFile, output))
      return fail("'" + output +
                  "' is the input model; write to another file (a saved "
                  "module resumes from a copy)");
  if (!outputFile.empty() && qat::isSameFile(outputFile, logFile))
    return fail("--log and -o name the same file '" + outputFile + "'");

  if ((syncBatchNorm || checkReplicas) && !distributed)
    return fail("--sync-batch-norm and --check-replicas go with "
                "--distributed");
  std::unique_ptr<qat::Communicator> communicator;
  int ranks = 1;
  if (distributed) {
    auto world = qat::createMpiCommunicator();
    if (!world)
      return fail("--distributed: " + llvm::toString(world.takeError()));
    communicator = std::move(*world);
    ranks = communicator->size();
    // Every rank finds this; one says it (interleaved, the lines garble).
    if (batchSize % ranks != 0) {
      if (communicator->rank() != 0)
        return 1;
      return fail("--distributed: the global batch of " +
                  llvm::Twine(batchSize) + " images does not divide among " +
                  llvm::Twine(ranks) + " ranks");
    }
  }
  // Each rank steps on its share of the global batch.
  int64_t replicaBatch = batchSize / ranks;

  DialectRegistry registry;
  qat::registerAllDialects(registry);
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  OwningOpRef<ModuleOp> module;
  if (llvm::StringRef(inputFile).ends_with(".mlir")) {
    module = qat::parseCheckedModule(inputFile, sourceMgr, &context);
  } else {
    qat::TorchImportOptions importOptions;
    importOptions.trainingMode = true;
    // The images' shape: an .npz's (read from its test split, usually the
    // smaller), else MNIST's 1 x 28 x 28.
    int64_t channels = 1, height = 28, width = 28;
    if (llvm::StringRef(dataDir).ends_with(".npz")) {
      auto data = qat::loadNpzDataset(dataDir, "test");
      if (!data)
        return fail(llvm::toString(data.takeError()));
      channels = data->channels;
      height = data->height;
      width = data->width;
    }
    importOptions.inputShapes = {{replicaBatch, channels, height, width}};
    module = qat::importTorchScript(&context, inputFile, importOptions);
  }
  if (!module)
    return 1;

  qat::TrainOptions options;
  options.dataDir = dataDir;
  options.normalizationFromData = StringRef(dataDir).ends_with(".npz");
  options.epochs = epochs;
  options.learningRate = learningRate;
  options.lrWarmupEpochs = warmupEpochs;
  options.optimizer = optimizer;
  options.momentum = momentum;
  options.nesterov = nesterov;
  options.adamBeta1 = adamBeta1;
  options.adamBeta2 = adamBeta2;
  options.adamEpsilon = adamEpsilon;
  options.weightDecayDepthwise = wdDepthwise;
  options.weightDecayConv = wdConv;
  options.weightDecayOther = wdOther;
  options.seed = seed;
  options.fpWarmupEpochs = fpWarmupEpochs;
  options.qconfigWeights = qconfig;
  options.qconfigActivations = qconfigActivations;
  options.freezeBatchNormAfterEpochs = freezeBatchNormAfter;
  options.targetExact = targetExact;
  options.inheritObservers = inheritObservers;
  options.gradBoost = gradBoost;
  options.gradBoostVariant = gradBoostVariant;
  options.gradBoostBeta = gradBoostBeta;
  options.gradBoostDecay = gradBoostDecay;
  options.gradBoostClip = gradBoostClip;
  options.gradBoostCoinProbability = gradBoostCoin;
  options.trainLimit = trainLimit;
  options.testLimit = testLimit;
  options.outputPath = outputFile;
  options.logPath = logFile;
  options.optLevel = optLevel;
  options.progress = !noProgress;
  options.stopAfterEpoch = stopAfterEpoch;
  options.communicator = communicator.get();
  options.syncBatchNorm = syncBatchNorm;
  options.checkReplicas = checkReplicas;
  // A .mlir model keeps its batch unless a global batch is given.
  if (distributed && batchSize.getNumOccurrences() > 0)
    options.replicaBatch = replicaBatch;
  options.cacheDir = qat::compileCacheDir(cacheDir);
  options.sharedLibs.push_back(QAT_C_RUNNER_UTILS);
  options.threads = std::max(1u, threads.getValue());
  if (options.threads > 1)
    options.sharedLibs.push_back(QAT_OPENMP_RUNTIME);
  if (failed(qat::trainModule(*module, options, llvm::outs())))
    return 1;
  return 0;
}
