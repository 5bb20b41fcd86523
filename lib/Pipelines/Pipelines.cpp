//===- Pipelines.cpp - qat-mlir pass pipelines ------------------*- C++ -*-===//
//
// Part of qat-mlir. The order of every pass the tools run, as named stages.
//
//===----------------------------------------------------------------------===//

#include "qat/Pipelines/Pipelines.h"
#include "qat/Codegen/CPU/Passes.h"
#include "qat/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/TosaToLinalg/TosaToLinalg.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::qat;

//===----------------------------------------------------------------------===//
// Training step
//===----------------------------------------------------------------------===//

ArrayRef<StringLiteral> mlir::qat::trainStepFunctionNames() {
  static const StringLiteral names[] = {"train_step",
                                        "loss_and_gradients",
                                        "train_step_warmup",
                                        "loss_and_gradients_warmup",
                                        "forward_eval_warmup",
                                        "train_step_frozen_bn",
                                        "loss_and_gradients_frozen_bn",
                                        kFrozenForwardName,
                                        "forward_data_parallel",
                                        "forward_frozen_bn_data_parallel"};
  return names;
}

void mlir::qat::addQatTrainingSemanticsPasses(
    OpPassManager &pm, const TrainStepPipelineOptions &options) {
  if (options.prepare)
    pm.addPass(createPreparePass(options.qconfig));
  // After preparation: the twin is fake-quantized as @forward is.
  if (options.frozenBatchNorm) {
    FrozenBatchNormForwardPassOptions frozen;
    frozen.functionName = kFrozenForwardName.str();
    pm.addPass(createFrozenBatchNormForwardPass(frozen));
  }
  if (options.targetExact) {
    pm.addPass(createFoldBatchNormPass());
    pm.addPass(createTargetExactPass());
  }
}

void mlir::qat::addTrainStepPasses(OpPassManager &pm,
                                   const TrainStepPipelineOptions &options) {
  // The training step of `forward` (and, to switch to after the batch
  // norms freeze, the one of its frozen twin): same state, same names.
  auto addStep = [&](StringRef forward, StringRef suffix) {
    GenerateBackwardPassOptions backward;
    backward.forwardName = forward.str();
    if (options.replicas > 1) {
      DataParallelForwardPassOptions replica;
      replica.forwardName = forward.str();
      replica.functionName = (forward + kDataParallelSuffix).str();
      replica.replicas = options.replicas;
      replica.syncBatchNorm = options.syncBatchNorm;
      pm.addPass(createDataParallelForwardPass(replica));
      backward.forwardName = replica.functionName;
    }
    backward.functionName = ("loss_and_gradients" + suffix).str();
    pm.addPass(createGenerateBackwardPass(backward));
    OptimizerPassOptions step = options.optimizer;
    step.gradientFunction = backward.functionName;
    step.functionName = ("train_step" + suffix).str();
    pm.addPass(createOptimizerPass(step));
    if (options.gradBoost) {
      GradBoostPassOptions boost = options.gradBoostOptions;
      boost.functionName = step.functionName;
      pm.addPass(createGradBoostPass(boost));
    }
  };
  addStep("forward", "");
  if (options.frozenBatchNorm)
    addStep(kFrozenForwardName, "_frozen_bn");
}

void mlir::qat::addStatAssistPasses(OpPassManager &pm,
                                    const TrainStepPipelineOptions &options) {
  if (!options.statAssist)
    return;
  StatAssistPassOptions statAssist;
  statAssist.inheritObservers = options.inheritObservers;
  pm.addPass(createStatAssistPass(statAssist));
}

ArrayRef<PipelineStage<TrainStepPipelineOptions>> mlir::qat::trainStepStages() {
  static const PipelineStage<TrainStepPipelineOptions> stages[] = {
      {"QAT semantics",
       "fake quantization and observers; the deployed integer arithmetic "
       "(target-exact)",
       addQatTrainingSemanticsPasses},
      {"training step", "backward graph, SGD step, GradBoost noise",
       addTrainStepPasses},
      {"StatAssist", "the FP warm-up step", addStatAssistPasses},
  };
  return stages;
}

void mlir::qat::buildTrainStepPipeline(
    OpPassManager &pm, const TrainStepPipelineOptions &options) {
  for (const auto &stage : trainStepStages())
    stage.addPasses(pm, options);
}

//===----------------------------------------------------------------------===//
// Deployment
//===----------------------------------------------------------------------===//

std::string mlir::qat::deployedFunction(const DeployPipelineOptions &options) {
  return options.keepFloat ? options.function : options.function + "_int8";
}

std::string mlir::qat::evaluationFunction(ModuleOp module) {
  return module.lookupSymbol("forward_eval") ? "forward_eval" : "forward";
}

void mlir::qat::addQatIntegerFormPasses(OpPassManager &pm,
                                        const DeployPipelineOptions &options) {
  if (options.keepFloat || !options.fold)
    return;
  pm.addPass(createFoldBatchNormPass());
  FoldQuantPassOptions fold;
  fold.function = options.function;
  fold.allowFloat = options.allowFloat;
  pm.addPass(createFoldQuantPass(fold));
}

void mlir::qat::addRebatchPasses(OpPassManager &pm,
                                 const DeployPipelineOptions &options) {
  if (!options.batch)
    return;
  RebatchPassOptions rebatch;
  rebatch.batch = *options.batch;
  rebatch.functions = {deployedFunction(options)};
  pm.addNestedPass<func::FuncOp>(createRebatchPass(rebatch));
}

ArrayRef<PipelineStage<DeployPipelineOptions>> mlir::qat::deployStages() {
  static const PipelineStage<DeployPipelineOptions> stages[] = {
      {"integer forms",
       "batch norms folded; fake quantization as int8 arithmetic",
       addQatIntegerFormPasses},
      {"batch size", "the deployed function for another batch",
       addRebatchPasses},
  };
  return stages;
}

void mlir::qat::buildDeployPipeline(OpPassManager &pm,
                                    const DeployPipelineOptions &options) {
  for (const auto &stage : deployStages())
    stage.addPasses(pm, options);
}

//===----------------------------------------------------------------------===//
// Lowering to LLVM
//===----------------------------------------------------------------------===//

void mlir::qat::addCpuInt8ConvPasses(OpPassManager &pm,
                                     const LowerToLLVMOptions &options) {
  if (!options.int8Convs || options.int8Isa.empty())
    return;
  Int8ConvToMmt4dPassOptions mmt4d;
  mmt4d.isa = options.int8Isa;
  mmt4d.report = options.reportKernels;
  pm.addPass(createInt8ConvToMmt4dPass(mmt4d));
}

void mlir::qat::addLinalgInputPasses(OpPassManager &pm,
                                     const LowerToLLVMOptions &options) {
  // qat ops that are tosa compositions first, then the imported models'
  // tosa (elementwise, reductions, matmul, shapes) to linalg, tensor and
  // arith.
  pm.addPass(createConvertQatToTosaPass());
  tosa::addTosaToLinalgPasses(pm, TosaToLinalgOptions());
  pm.addPass(createTosaToArithPass());
  pm.addPass(createTosaToTensorPass());
  pm.addPass(createConvertQatToLinalgPass());
  pm.addPass(createConvertElementwiseToLinalgPass());
}

void mlir::qat::addCpuTensorCodegenPasses(OpPassManager &pm,
                                          const LowerToLLVMOptions &options) {
  // f32 convolutions and their gradients as GEMMs, except those on short
  // rows that --qat-lower-direct-conv computes without im2col; then the
  // data-tiled products' packs (int8 ones come from qat-compile) as copies.
  ConvToMmt4dPassOptions convs;
  convs.leaveDirect = true;
  pm.addPass(createConvToMmt4dPass(convs));
  // Before fusion makes equal computations differ: a batch norm's gradient
  // rebuilds the batch statistics with the ops of the expanded forward, and
  // a convolution's two gradients transpose the same output gradient. Each
  // is then computed once.
  pm.addPass(createCSEPass());
  // Chains of elementwise ops (batch norm, masks, fake quantization) as one
  // loop nest each: fewer passes over memory and fewer buffers. After the
  // GEMM rewrite, which matches the gradients' plain multiply-add bodies.
  pm.addPass(createFuseElementwisePass());
  // After fusion, which would fold copies into the generic products.
  pm.addPass(createFoldMmt4dPacksPass());
  pm.addPass(createLowerPackUnpackPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Unpacked accumulators are added as a constant, not read from a fill.
  pm.addPass(createFoldFillReadsPass());
  // After CSE: a fill per accumulator, not a copy of one shared fill.
  pm.addPass(createDuplicateFillsPass());
  if (options.threads > 1) {
    ParallelizeKernelsPassOptions split;
    split.threads = options.threads;
    // Forking and joining the second thread costs ~10 us on the
    // development VM, about what 64K elements of a vector loop take:
    // smaller ops run faster on one thread (small CNN step +3-5% over a
    // threshold of 4096, measured at 65536 and 131072).
    split.minIterations = 65536;
    pm.addPass(createParallelizeKernelsPass(split));
  }
}

void mlir::qat::addBufferizationPasses(OpPassManager &pm,
                                       const LowerToLLVMOptions &options) {
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  // Loops that thread state (observers, optimizer steps) yield new tensors.
  bufferize.allowReturnAllocsFromLoops = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));

  // Results become out-parameters: the caller allocates every buffer it
  // receives, so no buffer crosses the ABI with unclear ownership.
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  // Copy into the out-parameter rather than hoisting the allocation: LLVM
  // 22's hoisting crashes when a returned buffer is a view
  // (memref.collapse_shape), as gradients of grouped convolutions are.
  outParams.hoistStaticAllocs = false;
  outParams.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());
}

void mlir::qat::addCpuBufferCodegenPasses(OpPassManager &pm,
                                          const LowerToLLVMOptions &options) {
  if (options.threads > 1)
    pm.addNestedPass<func::FuncOp>(createForallToParallelLoopPass());
  LowerMmt4dPassOptions mmt4d;
  mmt4d.isa = options.int8Isa;
  mmt4d.vectorBits = options.vectorBits;
  mmt4d.vectorRegisters = options.vectorRegisters;
  pm.addPass(createLowerMmt4dPass(mmt4d));
  // The convolutions left by --qat-conv-to-mmt4d. Both lowerings see the
  // zero fills before them, which their loops replace.
  LowerDirectConvPassOptions directConv;
  directConv.vectorBits = options.vectorBits;
  directConv.vectorRegisters = options.vectorRegisters;
  pm.addPass(createLowerDirectConvPass(directConv));
  // Compiled code needs only libc: no memrefCopy from the runner utilities.
  pm.addPass(createStridedCopiesToLinalgPass());
  pm.addPass(createInterchangeLoopsPass());
  // One function per linalg op keeps LLVM's compile time linear.
  pm.addPass(createOutlineKernelsPass());
  // Most kernels are copies (same-shaped layers, the warm-up step).
  pm.addPass(createDeduplicateKernelsPass());
  // Inside the kernels: observers' min/max over whole tensors,
  // elementwise ops and layout changes as vector loops rather than scalar
  // ones.
  pm.addPass(createVectorizeMinMaxReductionsPass());
  pm.addPass(createVectorizeElementwisePass());
  pm.addPass(createVectorizeTransposesPass());
}

void mlir::qat::addLLVMDialectPasses(OpPassManager &pm,
                                     const LowerToLLVMOptions &options) {
  bool parallel = options.threads > 1;
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  if (parallel) {
    pm.addPass(createConvertSCFToOpenMPPass());
    // Inlines the memref.alloca_scope that wraps each parallel body (our
    // loops allocate nothing), which must stay single-block otherwise.
    pm.addPass(createCanonicalizerPass());
  }
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  // The don't-care lanes of --qat-vectorize-transposes' shuffles.
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  if (parallel)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

ArrayRef<PipelineStage<qat::LowerToLLVMOptions>>
mlir::qat::lowerToLLVMStages() {
  static const PipelineStage<LowerToLLVMOptions> stages[] = {
      {"int8 convolutions", "as data-tiled GEMMs for the target's microkernel",
       addCpuInt8ConvPasses},
      {"input to linalg", "qat, tosa and elementwise ops to linalg",
       addLinalgInputPasses},
      {"CPU codegen on tensors",
       "f32 convolutions as GEMMs, fusion, packs, fills, threads",
       addCpuTensorCodegenPasses},
      {"bufferization", "buffers; results as out-parameters",
       addBufferizationPasses},
      {"CPU codegen on buffers", "microkernels, outlining, vectorization",
       addCpuBufferCodegenPasses},
      {"LLVM dialect", "loops, OpenMP, LLVM", addLLVMDialectPasses},
  };
  return stages;
}

void mlir::qat::buildLowerToLLVMPipeline(OpPassManager &pm,
                                         const LowerToLLVMOptions &options) {
  for (const auto &stage : lowerToLLVMStages())
    stage.addPasses(pm, options);
}

void mlir::qat::buildEntryPruningPipeline(OpPassManager &pm) {
  pm.addPass(createSymbolDCEPass());
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

namespace {

struct TrainStepPipelineCLOptions
    : PassPipelineOptions<TrainStepPipelineCLOptions> {
  Option<std::string> qconfig{
      *this, "qconfig",
      llvm::cl::desc("--qat-prepare's weights first (per-tensor or "
                     "per-channel; default: train the model as given)")};
  Option<std::string> qconfigActivations{
      *this, "qconfig-activations",
      llvm::cl::desc("--qat-prepare's activations (uint8, uint7, int8)"),
      llvm::cl::init("uint8")};
  Option<bool> frozenBatchNorm{
      *this, "freeze-bn",
      llvm::cl::desc("Also a step whose batch norms are frozen "
                     "(qat-train --freeze-bn-after-epochs)"),
      llvm::cl::init(false)};
  Option<bool> targetExact{
      *this, "target-exact",
      llvm::cl::desc("--qat-fold-batchnorm and --qat-target-exact"),
      llvm::cl::init(false)};
  Option<OptimizerAlgorithm> optimizer{
      *this, "optimizer", llvm::cl::desc("--qat-optimizer's algorithm"),
      llvm::cl::init(OptimizerAlgorithm::sgd),
      llvm::cl::values(
          clEnumValN(OptimizerAlgorithm::sgd, "sgd", "SGD with momentum"),
          clEnumValN(OptimizerAlgorithm::adam, "adam", "Adam"))};
  Option<double> momentum{*this, "momentum", llvm::cl::desc("SGD momentum"),
                          llvm::cl::init(0.9)};
  Option<double> adamBeta1{*this, "adam-beta1",
                           llvm::cl::desc("Adam's first-moment factor"),
                           llvm::cl::init(0.9)};
  Option<double> adamBeta2{*this, "adam-beta2",
                           llvm::cl::desc("Adam's second-moment factor"),
                           llvm::cl::init(0.999)};
  Option<double> adamEpsilon{*this, "adam-epsilon",
                             llvm::cl::desc("Adam's denominator term"),
                             llvm::cl::init(1e-8)};
  Option<bool> nesterov{*this, "nesterov", llvm::cl::desc("Nesterov momentum"),
                        llvm::cl::init(true)};
  Option<double> weightDecayDepthwise{
      *this, "weight-decay-depthwise",
      llvm::cl::desc("Weight decay of depthwise convolution weights"),
      llvm::cl::init(0.0)};
  Option<double> weightDecayConv{
      *this, "weight-decay-conv",
      llvm::cl::desc("Weight decay of other 4-D weights"),
      llvm::cl::init(1e-5)};
  Option<double> weightDecayOther{
      *this, "weight-decay-other",
      llvm::cl::desc("Weight decay of other parameters"), llvm::cl::init(1e-7)};
  Option<bool> gradBoost{*this, "grad-boost",
                         llvm::cl::desc("GradBoost every step"),
                         llvm::cl::init(false)};
  Option<GradBoostVariant> gradBoostVariant{
      *this, "grad-boost-variant",
      llvm::cl::desc("GradBoost's bias correction"),
      llvm::cl::init(GradBoostVariant::reference),
      llvm::cl::values(
          clEnumValN(GradBoostVariant::reference, "reference",
                     "the method's code"),
          clEnumValN(GradBoostVariant::corrected, "corrected", "Adam-style"))};
  Option<float> gradBoostBeta{*this, "grad-boost-beta",
                              llvm::cl::desc("GradBoost statistics' beta"),
                              llvm::cl::init(0.9f)};
  Option<float> gradBoostDecay{*this, "grad-boost-decay",
                               llvm::cl::desc("GradBoost noise decay"),
                               llvm::cl::init(1e-2f)};
  Option<float> gradBoostClip{*this, "grad-boost-clip",
                              llvm::cl::desc("GradBoost noise clip"),
                              llvm::cl::init(1e-3f)};
  Option<float> gradBoostCoinProbability{
      *this, "grad-boost-coin-probability",
      llvm::cl::desc("GradBoost coin probability"), llvm::cl::init(0.5f)};
  Option<bool> statAssist{*this, "stat-assist",
                          llvm::cl::desc("StatAssist's FP warm-up step"),
                          llvm::cl::init(false)};
  Option<bool> inheritObservers{
      *this, "inherit-observers",
      llvm::cl::desc("QAT starts from the warm-up's observer ranges"),
      llvm::cl::init(false)};
  Option<int64_t> replicas{
      *this, "replicas",
      llvm::cl::desc("Data-parallel steps for this many processes"),
      llvm::cl::init(1)};
  Option<bool> syncBatchNorm{
      *this, "sync-batch-norm",
      llvm::cl::desc("Data-parallel batch norms use the global batch's "
                     "statistics"),
      llvm::cl::init(false)};
};

struct DeployPipelineCLOptions : PassPipelineOptions<DeployPipelineCLOptions> {
  Option<std::string> function{*this, "function",
                               llvm::cl::desc("The evaluation function"),
                               llvm::cl::init("forward_eval")};
  Option<bool> keepFloat{
      *this, "keep-float",
      llvm::cl::desc("Deploy the function in float (no folding)"),
      llvm::cl::init(false)};
  Option<bool> fold{*this, "fold",
                    llvm::cl::desc("Make the integer form (qat-compile: "
                                   "unless the module has it already)"),
                    llvm::cl::init(true)};
  Option<int64_t> batch{*this, "batch",
                        llvm::cl::desc("Rebatch the deployed function (not "
                                       "given: keep its batch)")};
};

struct LowerToLLVMPipelineCLOptions
    : PassPipelineOptions<LowerToLLVMPipelineCLOptions> {
  Option<unsigned> threads{*this, "threads",
                           llvm::cl::desc("Threads per large op (OpenMP)"),
                           llvm::cl::init(1)};
  Option<std::string> int8Isa{
      *this, "int8-isa",
      llvm::cl::desc(
          "int8 mmt4d microkernels: avx512vnni, avxvnni, avx2 or dotprod "
          "(default: loops)")};
  Option<bool> int8Convs{
      *this, "int8-convs",
      llvm::cl::desc("Rewrite int8 convolutions as mmt4d for int8-isa "
                     "(--qat-int8-conv-to-mmt4d, as qat-compile does)"),
      llvm::cl::init(false)};
  Option<unsigned> vectorBits{
      *this, "vector-bits",
      llvm::cl::desc("Width of the target's vector registers (512, 256, 128)"),
      llvm::cl::init(512)};
  Option<unsigned> vectorRegisters{
      *this, "vector-registers",
      llvm::cl::desc("Number of the target's vector registers"),
      llvm::cl::init(32)};
};

} // namespace

void mlir::qat::registerPipelines() {
  PassPipelineRegistration<TrainStepPipelineCLOptions>(
      "qat-train-step-pipeline",
      "What qat-train runs on an imported model before compiling its "
      "steps: QAT preparation, the training steps, StatAssist",
      [](OpPassManager &pm, const TrainStepPipelineCLOptions &cl) {
        TrainStepPipelineOptions options;
        options.prepare = !cl.qconfig.empty();
        options.qconfig.weights = cl.qconfig;
        options.qconfig.activations = cl.qconfigActivations;
        options.frozenBatchNorm = cl.frozenBatchNorm;
        options.targetExact = cl.targetExact;
        options.optimizer.algorithm = cl.optimizer;
        options.optimizer.momentum = cl.momentum;
        options.optimizer.nesterov = cl.nesterov;
        options.optimizer.beta1 = cl.adamBeta1;
        options.optimizer.beta2 = cl.adamBeta2;
        options.optimizer.epsilon = cl.adamEpsilon;
        options.optimizer.weightDecayDepthwise = cl.weightDecayDepthwise;
        options.optimizer.weightDecayConv = cl.weightDecayConv;
        options.optimizer.weightDecayOther = cl.weightDecayOther;
        options.gradBoost = cl.gradBoost;
        options.gradBoostOptions.variant = cl.gradBoostVariant;
        options.gradBoostOptions.beta = cl.gradBoostBeta;
        options.gradBoostOptions.decay = cl.gradBoostDecay;
        options.gradBoostOptions.clip = cl.gradBoostClip;
        options.gradBoostOptions.coinProbability = cl.gradBoostCoinProbability;
        options.statAssist = cl.statAssist;
        options.inheritObservers = cl.inheritObservers;
        options.replicas = cl.replicas;
        options.syncBatchNorm = cl.syncBatchNorm;
        buildTrainStepPipeline(pm, options);
      });
  PassPipelineRegistration<DeployPipelineCLOptions>(
      "qat-deploy-pipeline",
      "What qat-compile runs on a trained module before binding its state: "
      "the integer forms of the evaluation function and its batch size",
      [](OpPassManager &pm, const DeployPipelineCLOptions &cl) {
        DeployPipelineOptions options;
        options.function = cl.function;
        options.keepFloat = cl.keepFloat;
        options.fold = cl.fold;
        if (cl.batch.hasValue())
          options.batch = cl.batch;
        buildDeployPipeline(pm, options);
      });
  PassPipelineRegistration<LowerToLLVMPipelineCLOptions>(
      "qat-lower-to-llvm",
      "Lower qat, linalg, tensor, arith and math on tensors to the LLVM "
      "dialect (results become trailing out-parameters)",
      [](OpPassManager &pm, const LowerToLLVMPipelineCLOptions &cl) {
        qat::LowerToLLVMOptions options;
        options.threads = cl.threads;
        options.int8Isa = cl.int8Isa;
        options.int8Convs = cl.int8Convs;
        options.vectorBits = cl.vectorBits;
        options.vectorRegisters = cl.vectorRegisters;
        buildLowerToLLVMPipeline(pm, options);
      });
}

//===----------------------------------------------------------------------===//
// Documentation
//===----------------------------------------------------------------------===//

namespace {

/// The passes `stage` adds with `options`, by their command-line names
/// (nested pipelines as `func.func(...)`), options left out.
template <typename Options>
std::vector<std::string> stagePasses(const PipelineStage<Options> &stage,
                                     const Options &options) {
  OpPassManager pm(ModuleOp::getOperationName());
  stage.addPasses(pm, options);
  std::vector<std::string> names;
  for (Pass &pass : pm.getPasses()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    pass.printAsTextualPipeline(os);
    // Drop the options: `name{a=1 b=2}` -> `name`.
    std::string name;
    int depth = 0;
    for (char c : text) {
      depth += c == '{';
      if (depth == 0)
        name += c;
      depth -= c == '}';
    }
    names.push_back(name);
  }
  return names;
}

template <typename Options>
void printPipeline(llvm::raw_ostream &os, StringRef argument, StringRef id,
                   StringRef caller, ArrayRef<PipelineStage<Options>> stages,
                   const Options &options) {
  os << "## `" << argument << "`\n\n" << caller << "\n\n";
  std::vector<std::vector<std::string>> passes;
  for (const auto &stage : stages)
    passes.push_back(stagePasses(stage, options));
  os << "```mermaid\nflowchart LR\n";
  for (auto [i, stage] : llvm::enumerate(stages)) {
    os << "  " << id << i << "[\"<b>" << stage.name << "</b><br/>"
       << llvm::join(passes[i], "<br/>") << "\"]\n";
    if (i > 0)
      os << "  " << id << i - 1 << " --> " << id << i << "\n";
  }
  os << "```\n\n| stage | what it does | passes |\n| --- | --- | --- |\n";
  for (auto [i, stage] : llvm::enumerate(stages)) {
    os << "| " << stage.name << " | " << stage.summary << " | ";
    os << llvm::join(llvm::map_range(passes[i],
                                     [](const std::string &name) {
                                       return "`" + name + "`";
                                     }),
                     ", ")
       << " |\n";
  }
  os << "\n";
}

} // namespace

void mlir::qat::printPipelinesMarkdown(llvm::raw_ostream &os) {
  os << "<!-- Generated by qat-pipeline-doc from lib/Pipelines/Pipelines.cpp; "
        "do not edit. -->\n\n# Pipelines\n\n"
        "Every pass the tools run, in order, with every option on (an option "
        "left off drops the passes it adds). `qat-opt --<pipeline>` runs the "
        "same passes as the tool.\n\n";
  TrainStepPipelineOptions train;
  train.prepare = train.frozenBatchNorm = train.targetExact = true;
  train.gradBoost = train.statAssist = true;
  printPipeline<TrainStepPipelineOptions>(
      os, "qat-train-step-pipeline", "train",
      "qat-train (`Trainer::build`), on the imported model; then each step "
      "is compiled with `qat-lower-to-llvm`.",
      trainStepStages(), train);
  DeployPipelineOptions deploy;
  deploy.batch = 1;
  printPipeline<DeployPipelineOptions>(
      os, "qat-deploy-pipeline", "deploy",
      "qat-compile, on the trained module; then the deployed function's "
      "state is bound and its constants evaluated (`buildDeployableModule`, "
      "not a pass: it runs the JIT), and `qat-lower-to-llvm` compiles it.",
      deployStages(), deploy);
  qat::LowerToLLVMOptions lower;
  lower.threads = 2;
  lower.int8Isa = "avx2";
  lower.int8Convs = true;
  printPipeline<qat::LowerToLLVMOptions>(
      os, "qat-lower-to-llvm", "lower",
      "The JIT (training steps, `qat-run`, constant evaluation; after "
      "`symbol-dce` of what no entry point reaches, "
      "`buildEntryPruningPipeline`) and "
      "qat-compile (which also sets `int8-convs` and its target's "
      "`int8-isa` and vector registers).",
      lowerToLLVMStages(), lower);
}
