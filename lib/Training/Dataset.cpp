//===- Dataset.cpp - IDX image classification data sets ---------*- C++ -*-===//
//
// Part of qat-mlir. IDX is a 4-byte magic (0, 0, type, rank), big-endian
// 32-bit dimensions and raw data; written by hand because it is that small.
// gzip is read with zlib.
//
//===----------------------------------------------------------------------===//

#include "qat/Training/Dataset.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"

#include <zlib.h>

using namespace mlir;
using namespace mlir::qat;

namespace {

llvm::Error fileError(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 (path + ": " + message).str());
}

/// The whole file, gunzipped (gzread also reads uncompressed files as is).
llvm::Expected<std::vector<uint8_t>> readAll(llvm::StringRef path) {
  gzFile file = gzopen(path.str().c_str(), "rb");
  if (!file)
    return fileError(path, "cannot open the file");
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  int read;
  while ((read = gzread(file, buffer, sizeof(buffer))) > 0)
    bytes.insert(bytes.end(), buffer, buffer + read);
  int errorCode = Z_OK;
  // zlib owns the message until gzclose.
  std::string message = gzerror(file, &errorCode);
  gzclose(file);
  if (read < 0 || (errorCode != Z_OK && errorCode != Z_STREAM_END))
    return fileError(path,
                     llvm::Twine("corrupt compressed data (") + message + ")");
  return bytes;
}

} // namespace

llvm::Expected<IdxFile> mlir::qat::readIdx(llvm::StringRef path) {
  auto bytes = readAll(path);
  if (!bytes)
    return bytes.takeError();
  return parseIdx(*bytes, path);
}

llvm::Expected<IdxFile> mlir::qat::parseIdx(llvm::ArrayRef<uint8_t> data,
                                            llvm::StringRef path) {
  if (data.size() < 4 || data[0] != 0 || data[1] != 0)
    return fileError(path, "not an IDX file (bad magic number)");
  if (data[2] != 0x08)
    return fileError(path, llvm::formatv("holds IDX element type {0:x2}; only "
                                         "unsigned bytes (0x08) are supported",
                                         data[2]));
  int64_t rank = data[3];
  size_t header = 4 + 4 * rank;
  if (data.size() < header)
    return fileError(path, "truncated IDX header");
  IdxFile idx;
  int64_t count = 1;
  bool overflow = false;
  for (int64_t dim = 0; dim < rank; ++dim) {
    const uint8_t *p = &data[4 + 4 * dim];
    int64_t size = (int64_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    idx.shape.push_back(size);
    // Dimensions up to 2^32 - 1 each: the product can pass 2^63.
    overflow |= llvm::MulOverflow(count, size, count);
  }
  if (overflow)
    return fileError(path, "IDX header promises more than 2^63 data bytes");
  if (static_cast<int64_t>(data.size() - header) != count)
    return fileError(path, llvm::formatv("holds {0} data bytes, its header "
                                         "promises {1}",
                                         data.size() - header, count));
  idx.data.assign(data.begin() + header, data.end());
  return idx;
}

void ImageDataset::normalized(int64_t index, float mean, float std,
                              float *out) const {
  const uint8_t *image = &pixels[index * height * width];
  for (int64_t i = 0; i < height * width; ++i) {
    float scaled = static_cast<float>(image[i]) / 255.0f;
    out[i] = (scaled - mean) / std;
  }
}

llvm::Expected<ImageDataset>
mlir::qat::loadImageDataset(llvm::StringRef directory, llvm::StringRef split) {
  if (split != "train" && split != "test")
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown split '" + split.str() + "'");
  std::string prefix = split == "train" ? "train" : "t10k";
  auto find = [&](llvm::StringRef stem) {
    llvm::SmallString<256> path(directory);
    llvm::sys::path::append(path, prefix + "-" + stem + ".gz");
    if (!llvm::sys::fs::exists(path))
      path.resize(path.size() - 3);
    return std::string(path);
  };
  std::string imagesPath = find("images-idx3-ubyte");
  std::string labelsPath = find("labels-idx1-ubyte");
  auto images = readIdx(imagesPath);
  if (!images)
    return images.takeError();
  auto labels = readIdx(labelsPath);
  if (!labels)
    return labels.takeError();
  if (images->shape.size() != 3)
    return fileError(imagesPath, "must hold images (rank 3: N x H x W)");
  if (labels->shape.size() != 1 || labels->shape[0] != images->shape[0])
    return fileError(
        labelsPath,
        llvm::formatv("must hold one label per image ({0})", images->shape[0]));
  ImageDataset dataset;
  dataset.count = images->shape[0];
  dataset.height = images->shape[1];
  dataset.width = images->shape[2];
  dataset.pixels = std::move(images->data);
  dataset.labels = std::move(labels->data);
  return dataset;
}
