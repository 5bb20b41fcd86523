//===- Pipelines.cpp - qat-mlir pass pipelines ------------------*- C++ -*-===//
//
// Part of qat-mlir.
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
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::qat::buildLowerToLLVMPipeline(OpPassManager &pm,
                                         const LowerToLLVMOptions &options) {
  bool parallel = options.threads > 1;
  // qat ops that are tosa compositions first, then the imported models'
  // tosa (elementwise, reductions, matmul, shapes) to linalg, tensor and
  // arith.
  pm.addPass(createConvertQatToTosa());
  tosa::addTosaToLinalgPasses(pm, TosaToLinalgOptions());
  pm.addPass(createTosaToArithPass());
  pm.addPass(createTosaToTensorPass());
  pm.addPass(createConvertQatToLinalg());
  pm.addPass(createConvertElementwiseToLinalgPass());
  // f32 convolutions and their gradients as GEMMs, except those on short
  // rows that --qat-lower-direct-conv computes without im2col; then the
  // data-tiled products' packs (int8 ones come from qat-compile) as copies.
  ConvToMmt4dOptions convs;
  convs.leaveDirect = true;
  pm.addPass(createConvToMmt4d(convs));
  // Before fusion makes equal computations differ: a batch norm's gradient
  // rebuilds the batch statistics with the ops of the expanded forward, and
  // a convolution's two gradients transpose the same output gradient. Each
  // is then computed once.
  pm.addPass(createCSEPass());
  // Chains of elementwise ops (batch norm, masks, fake quantization) as one
  // loop nest each: fewer passes over memory and fewer buffers. After the
  // GEMM rewrite, which matches the gradients' plain multiply-add bodies.
  pm.addPass(createFuseElementwise());
  // After fusion, which would fold copies into the generic products.
  pm.addPass(createFoldMmt4dPacks());
  pm.addPass(createLowerPackUnpack());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Unpacked accumulators are added as a constant, not read from a fill.
  pm.addPass(createFoldFillReads());
  // After CSE: a fill per accumulator, not a copy of one shared fill.
  pm.addPass(createDuplicateFills());
  if (parallel) {
    ParallelizeKernelsOptions split;
    split.threads = options.threads;
    // Forking and joining the second thread costs ~10 us on the
    // development VM, about what 64K elements of a vector loop take:
    // smaller ops run faster on one thread (small CNN step +3-5% over a
    // threshold of 4096, measured at 65536 and 131072).
    split.minIterations = 65536;
    pm.addPass(createParallelizeKernels(split));
  }

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
  if (parallel)
    pm.addNestedPass<func::FuncOp>(createForallToParallelLoopPass());
  LowerMmt4dOptions mmt4d;
  mmt4d.isa = options.int8Isa;
  mmt4d.vectorBits = options.vectorBits;
  mmt4d.vectorRegisters = options.vectorRegisters;
  pm.addPass(createLowerMmt4d(mmt4d));
  // The convolutions left by --qat-conv-to-mmt4d. Both lowerings see the
  // zero fills before them, which their loops replace.
  LowerDirectConvOptions directConv;
  directConv.vectorBits = options.vectorBits;
  directConv.vectorRegisters = options.vectorRegisters;
  pm.addPass(createLowerDirectConv(directConv));
  // Compiled code needs only libc: no memrefCopy from the runner utilities.
  pm.addPass(createStridedCopiesToLinalg());
  pm.addPass(createInterchangeLoops());
  // One function per linalg op keeps LLVM's compile time linear.
  pm.addPass(createOutlineKernels());
  // Most kernels are copies (same-shaped layers, the warm-up step).
  pm.addPass(createDeduplicateKernels());
  // Inside the kernels: observers' min/max over whole tensors,
  // elementwise ops and layout changes as vector loops rather than scalar
  // ones.
  pm.addPass(createVectorizeMinMaxReductions());
  pm.addPass(createVectorizeElementwise());
  pm.addPass(createVectorizeTransposes());

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

namespace {
struct LowerToLLVMPipelineOptions
    : PassPipelineOptions<LowerToLLVMPipelineOptions> {
  Option<unsigned> threads{*this, "threads",
                           llvm::cl::desc("Threads per large op (OpenMP)"),
                           llvm::cl::init(1)};
  Option<std::string> int8Isa{
      *this, "int8-isa",
      llvm::cl::desc(
          "int8 mmt4d microkernels: avx512vnni, avxvnni, avx2 or dotprod "
          "(default: loops)")};
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
  PassPipelineRegistration<LowerToLLVMPipelineOptions>(
      "qat-lower-to-llvm",
      "Lower qat, linalg, tensor, arith and math on tensors to the LLVM "
      "dialect (results become trailing out-parameters)",
      [](OpPassManager &pm, const LowerToLLVMPipelineOptions &options) {
        LowerToLLVMOptions lowering;
        lowering.threads = options.threads;
        lowering.int8Isa = options.int8Isa;
        lowering.vectorBits = options.vectorBits;
        lowering.vectorRegisters = options.vectorRegisters;
        buildLowerToLLVMPipeline(pm, lowering);
      });
}
