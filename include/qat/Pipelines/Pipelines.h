//===- Pipelines.h - qat-mlir pass pipelines --------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_PIPELINES_PIPELINES_H
#define QAT_PIPELINES_PIPELINES_H

#include <string>

namespace mlir {
class OpPassManager;

namespace qat {

struct LowerToLLVMOptions {
  /// Threads each large linalg op is split over (OpenMP); 1: sequential
  /// code. The compiled code then needs libomp at run time.
  unsigned threads = 1;
  /// Dot-product instruction set for int8 linalg.mmt4d microkernels
  /// (--qat-lower-mmt4d): "avx512vnni", or empty for the generic loops.
  std::string int8Isa;
  /// The target's vector registers (width in bits, count): how many rows
  /// the f32 microkernel keeps in registers (--qat-lower-mmt4d).
  unsigned vectorBits = 512, vectorRegisters = 32;
};

/// Lowers a module of func.func ops on tensors (tosa, qat, linalg, tensor,
/// arith, math, ml_program) to the LLVM dialect: tosa, qat and elementwise
/// ops to linalg, one-shot
/// bufferization with identity layouts at function boundaries, results turned
/// into trailing out-parameters (so callers own every buffer), buffer
/// deallocation, loops, and the LLVM dialect. Functions marked
/// `llvm.emit_c_interface` get a `_mlir_ciface_` wrapper taking memref
/// descriptors by pointer.
void buildLowerToLLVMPipeline(OpPassManager &pm,
                              const LowerToLLVMOptions &options = {});

/// Registers `qat-lower-to-llvm` with the pass registry.
void registerPipelines();

} // namespace qat
} // namespace mlir

#endif // QAT_PIPELINES_PIPELINES_H
