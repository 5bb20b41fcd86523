//===- ArchiveCheck.h - Validate a TorchScript archive ----------*- C++ -*-===//
//
// Part of qat-mlir.
//
// LibTorch trusts the archives it loads: its zip reader skips CRC-32 checks
// (a flipped byte in a weight imports silently), and its unpickler builds
// tensors over storages without comparing them with the bytes the archive
// holds (a short data entry is read out of bounds). checkTorchArchive runs
// before LibTorch and turns each of those into an error that names the file,
// the entry and the cause.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_IMPORT_TORCH_ARCHIVECHECK_H
#define QAT_IMPORT_TORCH_ARCHIVECHECK_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace mlir::qat {

/// Checks the bytes of a TorchScript archive (a zip file): the zip structure
/// and every entry's CRC-32 (libzip), then each pickle (`<dir>/<name>.pkl`):
/// every storage it names must be an entry `<dir>/<name>/<key>` holding at
/// least the storage's bytes, and every tensor view must lie inside its
/// storage. The error names the entry and what is wrong with it.
llvm::Error checkTorchArchive(llvm::StringRef bytes);

} // namespace mlir::qat

#endif // QAT_IMPORT_TORCH_ARCHIVECHECK_H
