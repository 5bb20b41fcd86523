//===- Dataset.h - image classification data sets ---------------*- C++ -*-===//
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
#include <utility>
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

/// Images with class labels, as training and evaluation consume them:
/// N x C x H x W bytes (IDX, or .npz uint8) or f32 values (.npz float32).
struct ImageDataset {
  int64_t count = 0, channels = 1, height = 0, width = 0;
  std::vector<uint8_t> pixels;    // count x channels x height x width
  std::vector<float> floatPixels; // the same, for float images
  std::vector<int64_t> labels;    // count
  bool isFloat() const { return !floatPixels.empty(); }
  int64_t imageSize() const { return channels * height * width; }
  /// Keeps the first `count` images.
  void truncate(int64_t count);
  /// Image `index` standardized: (p / 255 - mean) / std for bytes,
  /// (x - mean) / std for floats, each step rounded to f32 (as
  /// qat_mlir.datasets.normalize does).
  void normalized(int64_t index, float mean, float std, float *out) const;
  /// The mean and standard deviation of every value as normalized() sees
  /// it before standardizing (bytes / 255), computed in f64.
  std::pair<float, float> statistics() const;
};

/// Reads `<prefix>-images-idx3-ubyte[.gz]` and
/// `<prefix>-labels-idx1-ubyte[.gz]` from `directory`, where prefix is "train"
/// or "t10k" for split "train"/"test" (the layout of MNIST and Fashion-MNIST).
llvm::Expected<ImageDataset> loadImageDataset(llvm::StringRef directory,
                                              llvm::StringRef split);

/// Reads `<split>_images` (N x C x H x W or N x H x W, uint8 or float32)
/// and `<split>_labels` (N integers >= 0) from a NumPy .npz archive
/// (np.savez, uncompressed or compressed), split "train" or "test".
llvm::Expected<ImageDataset> loadNpzDataset(llvm::StringRef path,
                                            llvm::StringRef split);

/// An .npz file's data set, or a directory's IDX files.
llvm::Expected<ImageDataset> loadDataset(llvm::StringRef path,
                                         llvm::StringRef split);

/// The module attributes (f32) where qat-train records the images'
/// normalization, so that qat-compile deploys the one training used.
constexpr const char *kInputMeanAttr = "qat.input_mean";
constexpr const char *kInputStdAttr = "qat.input_std";

/// Where Debian's dataset-fashion-mnist package installs Fashion-MNIST, and
/// the per-pixel mean and standard deviation of its training images.
constexpr const char *kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
constexpr float kFashionMnistMean = 0.2860f;
constexpr float kFashionMnistStd = 0.3530f;

} // namespace mlir::qat

#endif // QAT_TRAINING_DATASET_H
