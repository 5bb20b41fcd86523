//===- qat-archive-fuzzer.cpp - libFuzzer target: TorchScript archives ----===//
//
// Part of qat-mlir. Any bytes go to checkTorchArchive, the check qat-import
// runs before LibTorch sees an archive (zip structure and CRC-32 through
// libzip, then the pickles' storages and tensor views). LibTorch's own
// loader is not fuzzed here: its crashes are LibTorch's, and it only reads
// archives this check passed.
//
//===----------------------------------------------------------------------===//

#include "qat/Import/Torch/ArchiveCheck.h"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  llvm::consumeError(mlir::qat::checkTorchArchive(bytes));
  return 0;
}
