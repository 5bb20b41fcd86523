//===- AtomicFile.cpp - files written whole or not at all -----------------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Support/AtomicFile.h"

#include "llvm/Support/FileSystem.h"

using namespace llvm;

Error mlir::qat::writeFileAtomically(
    StringRef path, function_ref<Error(raw_pwrite_stream &)> write) {
  if (path == "-") {
    Error written = write(outs());
    outs().flush();
    if (!written && outs().has_error()) {
      std::error_code error = outs().error();
      outs().clear_error();
      return createFileError("<stdout>", error);
    }
    return written;
  }
  // Beside `path`: the rename stays on one file system.
  Expected<sys::fs::TempFile> temp =
      sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return createFileError(path, temp.takeError());
  Error written = Error::success();
  std::error_code streamError;
  {
    raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    written = write(os);
    os.flush();
    streamError = os.error();
    // Reported below; a stream destroyed with its error set aborts.
    os.clear_error();
  }
  if (!written && streamError)
    written = createFileError(path, streamError);
  if (written) {
    consumeError(temp->discard());
    return written;
  }
  if (Error kept = temp->keep(path))
    return createFileError(path, std::move(kept));
  return Error::success();
}

bool mlir::qat::isSameFile(StringRef input, StringRef output) {
  bool same = false;
  if (input == "-" || output == "-")
    return false;
  return !sys::fs::equivalent(input, output, same) && same;
}
