//===- TorchImporter.h - TorchScript to MLIR --------------------*- C++ -*-===//
//
// Part of qat-mlir. The only interface to the LibTorch-based importer: no
// Torch header is visible here, so the rest of the project builds without
// Torch's flags.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_IMPORT_TORCH_TORCHIMPORTER_H
#define QAT_IMPORT_TORCH_TORCHIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::qat {

struct TorchImportOptions {
  /// Shapes of the model's tensor inputs, in order; empty to take them from
  /// the traced graph.
  std::vector<std::vector<int64_t>> inputShapes;
  /// Element types of the inputs, in order ("f32" or "i64": class-index
  /// targets of a model that returns its loss); empty: all f32.
  std::vector<std::string> inputTypes;
  /// Import the model in training mode (batch statistics, dropout) rather
  /// than evaluation mode.
  bool trainingMode = false;
};

/// Imports the `forward` method of the TorchScript archive at `path`.
///
/// The module holds one `ml_program.global` per parameter and buffer, named
/// and valued exactly as in the model's state_dict; `@forward`, a pure
/// function of those tensors (arguments with a `qat.state` attribute giving
/// the name) and the model's inputs; and `@predict`, which loads the globals
/// and calls `@forward`. Parameters (as opposed to buffers) are marked
/// `qat.trainable`. In training mode the module also holds
/// `@forward_eval`, the evaluation-mode forward over the same state. Errors are
/// emitted as diagnostics (with the Python source location of the offending op
/// where TorchScript kept it).
OwningOpRef<ModuleOp> importTorchScript(MLIRContext *context,
                                        llvm::StringRef path,
                                        const TorchImportOptions &options);

} // namespace mlir::qat

#endif // QAT_IMPORT_TORCH_TORCHIMPORTER_H
