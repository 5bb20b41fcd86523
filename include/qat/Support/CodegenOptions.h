//===- CodegenOptions.h - LLVM settings for generated code ------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_SUPPORT_CODEGENOPTIONS_H
#define QAT_SUPPORT_CODEGENOPTIONS_H

namespace mlir::qat {

/// Sets LLVM's code generation options that suit the code qat-mlir
/// generates, unless the command line set them. Call before code
/// generation (JIT or object files).
///
/// - `-combiner-store-merging=false`: SelectionDAG's store merging compares
///   every pair of stores in a basic block (BaseIndexOffset::match), and the
///   lowered training steps have blocks with thousands of stores (memref
///   descriptors); it took half of a training step's compile time (small
///   MobileNetV2 blocks, 60 s -> 29 s without it) and merged nothing that
///   made the step faster.
void configureCodegenForGeneratedCode();

} // namespace mlir::qat

#endif // QAT_SUPPORT_CODEGENOPTIONS_H
