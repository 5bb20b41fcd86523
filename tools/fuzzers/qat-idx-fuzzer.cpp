//===- qat-idx-fuzzer.cpp - libFuzzer target: IDX data sets ---------------===//
//
// Part of qat-mlir. Any bytes go to parseIdx, the reader of qat-train's
// IDX images and labels; a file that parses must hold exactly the bytes its
// shape promises.
//
//===----------------------------------------------------------------------===//

#include "qat/Training/Dataset.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<mlir::qat::IdxFile> idx =
      mlir::qat::parseIdx(llvm::ArrayRef(data, size), "input.idx");
  if (!idx) {
    llvm::consumeError(idx.takeError());
    return 0;
  }
  uint64_t count = 1;
  for (int64_t dim : idx->shape)
    count *= static_cast<uint64_t>(dim);
  if (idx->data.size() != count)
    abort();
  return 0;
}
