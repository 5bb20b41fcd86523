//===- Dataset.h - IDX image classification data sets -----------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_TRAINING_DATASET_H
#define QAT_TRAINING_DATASET_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::qat {

/// The raw contents of an IDX file (MNIST's format): unsigned-byte data
/// and its dimensions. Files ending in .gz are decompressed.
struct IdxFile {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

/// Reads an IDX file of unsigned bytes (type 0x08); the error names the
/// file and what is wrong with it.
llvm::Expected<IdxFile> readIdx(llvm::StringRef path);

/// Parses the (uncompressed) bytes of an IDX file; `name` is used in error
/// messages.
llvm::Expected<IdxFile> parseIdx(llvm::ArrayRef<uint8_t> bytes,
                                 llvm::StringRef name);

/// Grey images with class labels, as training and evaluation consume them.
struct ImageDataset {
  int64_t count = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels; // count x height x width
  std::vector<uint8_t> labels; // count

  /// Image `index` as f32 in [0, 1], standardized: (p / 255 - mean) / std,
  /// each step rounded to f32 (as qat_mlir.datasets.normalize does).
  void normalized(int64_t index, float mean, float std, float *out) const;
};

/// Reads `<prefix>-images-idx3-ubyte[.gz]` and
/// `<prefix>-labels-idx1-ubyte[.gz]` from `directory`, where prefix is "train"
/// or "t10k" for split "train"/"test" (the layout of MNIST and Fashion-MNIST).
llvm::Expected<ImageDataset> loadImageDataset(llvm::StringRef directory,
                                              llvm::StringRef split);

/// Where Debian's dataset-fashion-mnist package installs Fashion-MNIST, and
/// the per-pixel mean and standard deviation of its training images.
constexpr const char *kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
constexpr float kFashionMnistMean = 0.2860f;
constexpr float kFashionMnistStd = 0.3530f;

} // namespace mlir::qat

#endif // QAT_TRAINING_DATASET_H
