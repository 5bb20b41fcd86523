//===- Npy.h - NumPy .npy arrays --------------------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
// Reads and writes NumPy's .npy format (versions 1-3, little-endian, C
// order), the exchange format of qat-mlir's tools. Written by hand because
// no Debian-packaged C++ library covers it; the format is a short header and
// raw bytes.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_SUPPORT_NPY_H
#define QAT_SUPPORT_NPY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::qat {

/// The element types the tools exchange, named by their NumPy `descr`.
enum class NpyElementType {
  Bool,
  Int8,
  UInt8,
  Int16,
  Int32,
  Int64,
  Float32,
  Float64
};

/// The NumPy `descr` string of an element type (`<f4`, `|b1`, ...).
llvm::StringRef npyDescr(NpyElementType type);

/// Size of one element in bytes.
size_t npyElementSize(NpyElementType type);

/// A dense, C-ordered array.
struct NpyArray {
  NpyElementType elementType = NpyElementType::Float32;
  std::vector<int64_t> shape;
  std::vector<char> data;

  int64_t numElements() const;
  /// An array of `shape` with zeroed storage.
  static NpyArray zeros(NpyElementType elementType, std::vector<int64_t> shape);
};

/// Parses a .npy file; the error names the file and what is wrong with it.
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);

/// Parses .npy bytes; `name` is used in error messages.
llvm::Expected<NpyArray> parseNpy(llvm::StringRef bytes, llvm::StringRef name);

/// Writes `array` to `path` atomically (a temporary file, then a rename).
llvm::Error writeNpy(llvm::StringRef path, const NpyArray &array);

} // namespace mlir::qat

#endif // QAT_SUPPORT_NPY_H
