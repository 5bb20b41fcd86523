//===- JitRunner.h - run a tensor function on NumPy arrays ------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_EXECUTIONENGINE_JITRUNNER_H
#define QAT_EXECUTIONENGINE_JITRUNNER_H

#include "qat/Support/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace mlir::qat {

struct JitOptions {
  /// Shared libraries to load before running (e.g. mlir_c_runner_utils).
  std::vector<std::string> sharedLibs;
  /// LLVM optimization level, 0 to 3.
  unsigned optLevel = 2;
  /// How many times to call the entry function (for timing); the outputs
  /// are those of the last call. Every call sees the original inputs.
  unsigned calls = 1;
};

struct JitResult {
  /// One array per result of the entry function.
  std::vector<NpyArray> outputs;
  /// Seconds spent lowering and JIT-compiling.
  double compileSeconds = 0;
  /// Wall-clock seconds of each call.
  std::vector<double> callSeconds;
};

/// Lowers `module` with the qat-lower-to-llvm pipeline, compiles it with
/// MLIR's ExecutionEngine and calls `entry` on `inputs`.
///
/// `entry` must be a func.func whose arguments are ranked tensors matching
/// `inputs` (element type exactly, shape where static) and whose results are
/// statically shaped ranked tensors. Compiled code may update its argument
/// buffers in place (one-shot bufferization treats function arguments as
/// writable), so each call gets a fresh copy of `inputs`. Errors are
/// reported through `module`'s diagnostics and as a failure.
FailureOr<JitResult> runJit(ModuleOp module, StringRef entry,
                            ArrayRef<NpyArray> inputs,
                            const JitOptions &options);

} // namespace mlir::qat

#endif // QAT_EXECUTIONENGINE_JITRUNNER_H
