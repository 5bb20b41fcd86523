//===- Dataset.cpp - image classification data sets -------------*- C++ -*-===//
//
// Part of qat-mlir. IDX is a 4-byte magic (0, 0, type, rank), big-endian
// 32-bit dimensions and raw data; written by hand because it is that small.
// gzip is read with zlib. NumPy's .npz is a zip of .npy files: libzip
// reads the zip (and checks its CRCs), Support/Npy the arrays.
//
//===----------------------------------------------------------------------===//

#include "qat/Training/Dataset.h"
#include "qat/Support/Npy.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>
#include <zip.h>
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

void ImageDataset::truncate(int64_t kept) {
  count = kept;
  labels.resize(kept);
  if (isFloat())
    floatPixels.resize(kept * imageSize());
  else
    pixels.resize(kept * imageSize());
}

void ImageDataset::normalized(int64_t index, float mean, float std,
                              float *out) const {
  int64_t size = imageSize();
  if (isFloat()) {
    const float *image = &floatPixels[index * size];
    for (int64_t i = 0; i < size; ++i)
      out[i] = (image[i] - mean) / std;
    return;
  }
  const uint8_t *image = &pixels[index * size];
  for (int64_t i = 0; i < size; ++i) {
    float scaled = static_cast<float>(image[i]) / 255.0f;
    out[i] = (scaled - mean) / std;
  }
}

std::pair<float, float> ImageDataset::statistics() const {
  double sum = 0, squares = 0;
  int64_t n = count * imageSize();
  for (int64_t i = 0; i < n; ++i) {
    double v = isFloat() ? floatPixels[i] : pixels[i] / 255.0;
    sum += v;
    squares += v * v;
  }
  double mean = n ? sum / n : 0;
  double variance = n ? std::max(0.0, squares / n - mean * mean) : 0;
  return {static_cast<float>(mean), static_cast<float>(std::sqrt(variance))};
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
  dataset.labels.assign(labels->data.begin(), labels->data.end());
  return dataset;
}

namespace {

/// The .npy entry `name` of an open .npz archive, parsed.
llvm::Expected<NpyArray> readNpzEntry(zip_t *archive, llvm::StringRef path,
                                      const std::string &name) {
  std::string entry = name + ".npy";
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive, entry.c_str(), 0, &stat) != 0 ||
      !(stat.valid & ZIP_STAT_SIZE))
    return fileError(path, "has no array '" + name + "' (entry '" + entry +
                               "'); a data set holds train_images, "
                               "train_labels, test_images and test_labels");
  zip_file_t *file = zip_fopen(archive, entry.c_str(), 0);
  if (!file)
    return fileError(path, "cannot open entry '" + entry + "' (" +
                               zip_strerror(archive) + ")");
  std::string bytes(stat.size, '\0');
  zip_int64_t read = zip_fread(file, bytes.data(), stat.size);
  // Reading to the end checks the entry's CRC-32.
  char extra;
  zip_int64_t past = read == static_cast<zip_int64_t>(stat.size)
                         ? zip_fread(file, &extra, 1)
                         : -1;
  std::string message = zip_file_strerror(file);
  zip_fclose(file);
  if (read != static_cast<zip_int64_t>(stat.size) || past != 0)
    return fileError(path,
                     "entry '" + entry + "' is corrupt (" + message + ")");
  return parseNpy(bytes, (path + ":" + entry).str());
}

} // namespace

llvm::Expected<ImageDataset> mlir::qat::loadNpzDataset(llvm::StringRef path,
                                                       llvm::StringRef split) {
  if (split != "train" && split != "test")
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown split '" + split.str() + "'");
  int error = 0;
  zip_t *archive = zip_open(path.str().c_str(), ZIP_RDONLY, &error);
  if (!archive) {
    zip_error_t zipError;
    zip_error_init_with_code(&zipError, error);
    std::string message = zip_error_strerror(&zipError);
    zip_error_fini(&zipError);
    return fileError(path, "cannot read the .npz archive (" + message + ")");
  }
  auto images = readNpzEntry(archive, path, split.str() + "_images");
  auto labels = images ? readNpzEntry(archive, path, split.str() + "_labels")
                       : llvm::Expected<NpyArray>(images.takeError());
  zip_close(archive);
  if (!labels)
    return labels.takeError();
  std::string imagesName = split.str() + "_images";
  std::string labelsName = split.str() + "_labels";
  const std::vector<int64_t> &shape = images->shape;
  if (shape.size() != 3 && shape.size() != 4)
    return fileError(path, imagesName +
                               " must be N x C x H x W (or N x H x W) images, "
                               "not rank " +
                               llvm::Twine(shape.size()));
  ImageDataset dataset;
  dataset.count = shape[0];
  dataset.channels = shape.size() == 4 ? shape[1] : 1;
  dataset.height = shape[shape.size() - 2];
  dataset.width = shape.back();
  int64_t n = images->numElements();
  if (images->elementType == NpyElementType::UInt8) {
    dataset.pixels.assign(images->data.begin(), images->data.end());
  } else if (images->elementType == NpyElementType::Float32) {
    dataset.floatPixels.resize(n);
    std::memcpy(dataset.floatPixels.data(), images->data.data(), n * 4);
    for (auto [index, value] : llvm::enumerate(dataset.floatPixels))
      if (!std::isfinite(value))
        return fileError(path, imagesName +
                                   " holds a non-finite value at "
                                   "flat index " +
                                   llvm::Twine(index));
    if (n == 0)
      dataset.floatPixels.push_back(0.0f); // still float: isFloat()
  } else {
    return fileError(path, imagesName + " must be uint8 or float32, not " +
                               npyDescr(images->elementType));
  }
  if (labels->shape.size() != 1 || labels->shape[0] != dataset.count)
    return fileError(path, labelsName + " must hold one label per image (" +
                               llvm::Twine(dataset.count) + ")");
  for (int64_t i = 0; i < dataset.count; ++i) {
    int64_t label;
    const char *data = labels->data.data();
    switch (labels->elementType) {
    case NpyElementType::UInt8:
      label = static_cast<uint8_t>(data[i]);
      break;
    case NpyElementType::Int32: {
      int32_t v;
      std::memcpy(&v, data + 4 * i, 4);
      label = v;
      break;
    }
    case NpyElementType::Int64:
      std::memcpy(&label, data + 8 * i, 8);
      break;
    default:
      return fileError(path, labelsName +
                                 " must be uint8, int32 or int64, "
                                 "not " +
                                 npyDescr(labels->elementType));
    }
    if (label < 0)
      return fileError(path, labelsName + "[" + llvm::Twine(i) + "] is " +
                                 llvm::Twine(label) + ", not a class");
    dataset.labels.push_back(label);
  }
  return dataset;
}

llvm::Expected<ImageDataset> mlir::qat::loadDataset(llvm::StringRef path,
                                                    llvm::StringRef split) {
  if (path.ends_with(".npz"))
    return loadNpzDataset(path, split);
  return loadImageDataset(path, split);
}
