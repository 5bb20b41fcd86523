//===- StateDictExport.h - model state back to PyTorch ----------*- C++ -*-===//
//
// Part of qat-mlir. Torch-free interface to writing a module's state as a
// PyTorch state_dict file.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_IMPORT_TORCH_STATEDICTEXPORT_H
#define QAT_IMPORT_TORCH_STATEDICTEXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::qat {

/// Writes every `ml_program.global` of `module` (name -> value, in module
/// order) to `path` in the format of `torch.save`, so that Python's
/// `model.load_state_dict(torch.load(path))` restores them bit for bit. The
/// file is written atomically; errors are emitted as diagnostics.
LogicalResult exportStateDict(ModuleOp module, llvm::StringRef path);

} // namespace mlir::qat

#endif // QAT_IMPORT_TORCH_STATEDICTEXPORT_H
