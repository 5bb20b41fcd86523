//===- Pipelines.h - qat-mlir pass pipelines --------------------*- C++ -*-===//
//
// Part of qat-mlir. The one place that orders passes. Each pipeline is a
// list of named stages; qat-train (the Trainer), qat-compile (the Compiler
// library) and the JIT call the builders and only set options, and qat-opt
// registers every pipeline, so `qat-opt --qat-train-step-pipeline=...` runs
// exactly the passes qat-train runs.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_PIPELINES_PIPELINES_H
#define QAT_PIPELINES_PIPELINES_H

#include "qat/Dialect/Qat/Transforms/Passes.h"
#include "qat/Training/Transforms/Passes.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>

namespace mlir {
class OpPassManager;

namespace qat {

/// A named part of a pipeline: what the docs' pipeline diagram shows.
template <typename Options> struct PipelineStage {
  const char *name;
  const char *summary;
  void (*addPasses)(OpPassManager &pm, const Options &options);
};

//===----------------------------------------------------------------------===//
// Training step (qat-train)
//===----------------------------------------------------------------------===//

/// What qat-train builds from an imported model (@forward, @forward_eval):
/// the QAT preparation, then the training steps and their FP warm-up.
struct TrainStepPipelineOptions {
  /// --qat-prepare with these options; `prepare` false: the model is
  /// trained as given (fp32, prepared already, or a checkpoint).
  bool prepare = false;
  PreparePassOptions qconfig;
  /// A second step from a twin of @forward whose batch norms are frozen
  /// (--qat-frozen-bn-forward), to switch to after some epochs.
  bool frozenBatchNorm = false;
  /// --qat-fold-batchnorm and --qat-target-exact: training computes the
  /// deployed integer arithmetic.
  bool targetExact = false;
  /// --qat-optimizer's algorithm and its numbers (the function names are
  /// the pipeline's).
  OptimizerPassOptions optimizer;
  /// --qat-grad-boost on every step.
  bool gradBoost = false;
  GradBoostPassOptions gradBoostOptions;
  /// StatAssist's FP warm-up step (--qat-stat-assist).
  bool statAssist = false;
  bool inheritObservers = false;
  /// Data-parallel steps for this many replicas (processes), each built
  /// from a twin of its forward (--qat-data-parallel-forward); 1: none.
  int64_t replicas = 1;
  /// ... whose training batch norms use the global batch's statistics.
  bool syncBatchNorm = false;
};

/// The name of the twin of @forward whose batch norms are frozen.
inline constexpr llvm::StringLiteral kFrozenForwardName = "forward_frozen_bn";
/// The suffix of a forward's data-parallel twin.
inline constexpr llvm::StringLiteral kDataParallelSuffix = "_data_parallel";
/// The functions the pipeline adds: qat-train drops them when it saves a
/// module (a resumed run builds them again).
llvm::ArrayRef<llvm::StringLiteral> trainStepFunctionNames();

/// The model's QAT semantics: --qat-prepare, the frozen twin, then
/// --qat-fold-batchnorm and --qat-target-exact (which leave folded and
/// exact layers alone, so a checkpoint resumes as saved).
void addQatTrainingSemanticsPasses(OpPassManager &pm,
                                   const TrainStepPipelineOptions &options);
/// @loss_and_gradients and @train_step (and their _frozen_bn twins):
/// --qat-generate-backward, --qat-optimizer, --qat-grad-boost.
void addTrainStepPasses(OpPassManager &pm,
                        const TrainStepPipelineOptions &options);
/// StatAssist: @train_step_warmup and @forward_eval_warmup.
void addStatAssistPasses(OpPassManager &pm,
                         const TrainStepPipelineOptions &options);
llvm::ArrayRef<PipelineStage<TrainStepPipelineOptions>> trainStepStages();
void buildTrainStepPipeline(OpPassManager &pm,
                            const TrainStepPipelineOptions &options);

//===----------------------------------------------------------------------===//
// Deployment (qat-compile, before the constants are bound)
//===----------------------------------------------------------------------===//

struct DeployPipelineOptions {
  /// The evaluation function to deploy.
  std::string function = "forward_eval";
  /// Deploy `function` in float as it is, rather than its integer form
  /// @<function>_int8.
  bool keepFloat = false;
  /// Make the integer form (--qat-fold-batchnorm, --qat-fold-quant); false
  /// where the module has it already.
  bool fold = true;
  /// Keep ops without an integer form in float between quantized values
  /// (--qat-fold-quant=allow-float) rather than fail.
  bool allowFloat = false;
  /// --qat-rebatch of the deployed function to this batch.
  std::optional<int64_t> batch;
};

/// The name of the function `options` deploys.
std::string deployedFunction(const DeployPipelineOptions &options);
/// A module's evaluation function: @forward_eval where the module has one
/// (qat-import --mode train, qat-train), else @forward (an evaluation-mode
/// trace, such as a PyTorch QAT model traced after `.eval()`).
std::string evaluationFunction(ModuleOp module);
/// What the trained model means in integers: --qat-fold-batchnorm and
/// --qat-fold-quant.
void addQatIntegerFormPasses(OpPassManager &pm,
                             const DeployPipelineOptions &options);
/// --qat-rebatch of the deployed function.
void addRebatchPasses(OpPassManager &pm, const DeployPipelineOptions &options);
llvm::ArrayRef<PipelineStage<DeployPipelineOptions>> deployStages();
void buildDeployPipeline(OpPassManager &pm,
                         const DeployPipelineOptions &options);

//===----------------------------------------------------------------------===//
// Lowering to LLVM (the JIT of qat-train and qat-run, and qat-compile)
//===----------------------------------------------------------------------===//

struct LowerToLLVMOptions {
  /// Threads each large linalg op is split over (OpenMP); 1: sequential
  /// code. The compiled code then needs libomp at run time.
  unsigned threads = 1;
  /// Dot-product instruction set for int8 linalg.mmt4d microkernels
  /// (--qat-lower-mmt4d): "avx512vnni", or empty for the generic loops.
  std::string int8Isa;
  /// Also rewrite int8 convolutions as mmt4d for `int8Isa`
  /// (--qat-int8-conv-to-mmt4d, as qat-compile does), with a remark per
  /// layer naming its kernel if `reportKernels`.
  bool int8Convs = false, reportKernels = false;
  /// The target's vector registers (width in bits, count): how many rows
  /// the f32 microkernel keeps in registers (--qat-lower-mmt4d).
  unsigned vectorBits = 512, vectorRegisters = 32;
};

/// int8 convolutions as data-tiled GEMMs on the target's microkernel.
void addCpuInt8ConvPasses(OpPassManager &pm, const LowerToLLVMOptions &options);
/// qat, tosa and elementwise ops to linalg, tensor and arith.
void addLinalgInputPasses(OpPassManager &pm, const LowerToLLVMOptions &options);
/// CPU code generation on tensors: GEMM rewrites of f32 convolutions,
/// fusion, packs, fills, parallelization.
void addCpuTensorCodegenPasses(OpPassManager &pm,
                               const LowerToLLVMOptions &options);
/// One-shot bufferization, results as out-parameters, deallocation.
void addBufferizationPasses(OpPassManager &pm,
                            const LowerToLLVMOptions &options);
/// CPU code generation on buffers: microkernels, outlining,
/// vectorization.
void addCpuBufferCodegenPasses(OpPassManager &pm,
                               const LowerToLLVMOptions &options);
/// Loops, OpenMP, and the LLVM dialect.
void addLLVMDialectPasses(OpPassManager &pm, const LowerToLLVMOptions &options);
llvm::ArrayRef<PipelineStage<LowerToLLVMOptions>> lowerToLLVMStages();

/// Lowers a module of func.func ops on tensors (tosa, qat, linalg, tensor,
/// arith, math, ml_program) to the LLVM dialect: tosa, qat and elementwise
/// ops to linalg, one-shot bufferization with identity layouts at function
/// boundaries, results turned into trailing out-parameters (so callers own
/// every buffer), buffer deallocation, loops, and the LLVM dialect.
/// Functions marked `llvm.emit_c_interface` get a `_mlir_ciface_` wrapper
/// taking memref descriptors by pointer.
void buildLowerToLLVMPipeline(OpPassManager &pm,
                              const LowerToLLVMOptions &options = {});

/// What the JIT keeps of a module whose functions other than the entry
/// points it made private: symbol-dce drops what no entry reaches (the
/// globals too, so the compile cache's key does not see the initial
/// weights).
void buildEntryPruningPipeline(OpPassManager &pm);

/// Registers qat-train-step-pipeline, qat-deploy-pipeline and
/// qat-lower-to-llvm with the pass registry.
void registerPipelines();

/// Writes the pipelines' stages and passes (every option on) as a Markdown
/// page with a Mermaid diagram: docs/generated/QatPipelines.md.
void printPipelinesMarkdown(llvm::raw_ostream &os);

} // namespace qat
} // namespace mlir

#endif // QAT_PIPELINES_PIPELINES_H
