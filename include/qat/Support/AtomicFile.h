//===- AtomicFile.h - files written whole or not at all ---------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_SUPPORT_ATOMICFILE_H
#define QAT_SUPPORT_ATOMICFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::qat {

/// Writes `path` atomically: into a temporary file beside it, renamed over
/// `path` only when `write` succeeded and every byte reached the file. On
/// any failure (a full disk, a file-size limit) the temporary is removed,
/// `path` keeps its previous contents and the error names the file and the
/// cause. The temporary is also removed if the process is interrupted by a
/// signal it can catch. "-" writes to stdout.
///
/// Written by hand because llvm::writeToOutput renames the temporary over
/// `path` even when the stream failed, and then aborts ("IO failure on
/// output stream").
llvm::Error writeFileAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_pwrite_stream &)> write);

/// Whether `output` names the same file as `input` (an existing file, by
/// device and inode): tools refuse to overwrite their input.
bool isSameFile(llvm::StringRef input, llvm::StringRef output);

} // namespace mlir::qat

#endif // QAT_SUPPORT_ATOMICFILE_H
