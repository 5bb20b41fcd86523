//===- Npy.cpp - NumPy .npy arrays ------------------------------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Support/Npy.h"
#include "qat/Support/AtomicFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir::qat;
using llvm::StringRef;

namespace {

struct ElementTypeInfo {
  NpyElementType type;
  StringRef descr;
  size_t size;
};

constexpr ElementTypeInfo elementTypes[] = {
    {NpyElementType::Bool, "|b1", 1},    {NpyElementType::Int8, "|i1", 1},
    {NpyElementType::UInt8, "|u1", 1},   {NpyElementType::Int16, "<i2", 2},
    {NpyElementType::Int32, "<i4", 4},   {NpyElementType::Int64, "<i8", 8},
    {NpyElementType::Float32, "<f4", 4}, {NpyElementType::Float64, "<f8", 8},
};

const ElementTypeInfo &info(NpyElementType type) {
  return *llvm::find_if(elementTypes, [&](const ElementTypeInfo &entry) {
    return entry.type == type;
  });
}

constexpr StringRef magic = "\x93NUMPY";

llvm::Error npyError(StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 name + ": " + message);
}

/// The text after `'key':` in a .npy header dictionary, trimmed.
std::optional<StringRef> headerValue(StringRef header, StringRef key) {
  std::string quoted = ("'" + key + "'").str();
  size_t at = header.find(quoted);
  if (at == StringRef::npos)
    return std::nullopt;
  StringRef rest = header.drop_front(at + quoted.size()).ltrim();
  if (!rest.consume_front(":"))
    return std::nullopt;
  return rest.ltrim();
}

} // namespace

StringRef mlir::qat::npyDescr(NpyElementType type) { return info(type).descr; }

size_t mlir::qat::npyElementSize(NpyElementType type) {
  return info(type).size;
}

int64_t NpyArray::numElements() const {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

NpyArray NpyArray::zeros(NpyElementType elementType,
                         std::vector<int64_t> shape) {
  NpyArray array;
  array.elementType = elementType;
  array.shape = std::move(shape);
  array.data.assign(array.numElements() * npyElementSize(elementType), 0);
  return array;
}

llvm::Expected<NpyArray> mlir::qat::parseNpy(StringRef bytes, StringRef name) {
  if (!bytes.starts_with(magic))
    return npyError(name, "not a .npy file (bad magic string)");
  if (bytes.size() < 10)
    return npyError(name, "truncated .npy header");
  unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t headerLength, headerStart;
  auto byteAt = [&](size_t i) {
    return static_cast<size_t>(static_cast<unsigned char>(bytes[i]));
  };
  if (major == 1) {
    headerLength = byteAt(8) | byteAt(9) << 8;
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return npyError(name, "truncated .npy header");
    headerLength =
        byteAt(8) | byteAt(9) << 8 | byteAt(10) << 16 | byteAt(11) << 24;
    headerStart = 12;
  } else {
    return npyError(name, "unsupported .npy version " + llvm::Twine(major));
  }
  if (bytes.size() < headerStart + headerLength)
    return npyError(name, "truncated .npy header");
  StringRef header = bytes.substr(headerStart, headerLength);

  std::optional<StringRef> descr = headerValue(header, "descr");
  std::optional<StringRef> fortran = headerValue(header, "fortran_order");
  std::optional<StringRef> shapeText = headerValue(header, "shape");
  if (!descr || !fortran || !shapeText)
    return npyError(name, "malformed .npy header '" + header.trim() + "'");

  NpyArray array;
  if (!descr->starts_with("'") && !descr->starts_with("\""))
    return npyError(name, "malformed dtype in .npy header");
  StringRef descrValue = descr->drop_front().take_until(
      [](char c) { return c == '\'' || c == '"'; });
  const ElementTypeInfo *type =
      llvm::find_if(elementTypes, [&](const ElementTypeInfo &entry) {
        return entry.descr == descrValue;
      });
  if (type == std::end(elementTypes))
    return npyError(name, "unsupported dtype '" + descrValue +
                              "' (supported: bool, int8, uint8, int16, "
                              "int32, int64, float32, float64; little-endian)");
  array.elementType = type->type;
  if (fortran->starts_with("True"))
    return npyError(name, "Fortran-ordered arrays are not supported; save a "
                          "C-contiguous array");

  if (!shapeText->consume_front("("))
    return npyError(name, "malformed shape in .npy header");
  StringRef dims = shapeText->take_until([](char c) { return c == ')'; });
  llvm::SmallVector<StringRef> parts;
  dims.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts) {
    part = part.trim();
    if (part.empty())
      continue;
    int64_t size;
    if (part.getAsInteger(10, size) || size < 0)
      return npyError(name, "malformed dimension '" + part + "' in shape");
    array.shape.push_back(size);
  }

  // Sizes up to 2^63 each: the byte count is checked for overflow.
  int64_t expectedBytes = static_cast<int64_t>(type->size);
  for (int64_t size : array.shape)
    if (llvm::MulOverflow(expectedBytes, size, expectedBytes))
      return npyError(name, "shape promises more than 2^63 data bytes");
  size_t expected = static_cast<size_t>(expectedBytes);
  StringRef payload = bytes.drop_front(headerStart + headerLength);
  if (payload.size() != expected)
    return npyError(name, "holds " + llvm::Twine(payload.size()) +
                              " data bytes but its header promises " +
                              llvm::Twine(expected));
  array.data.assign(payload.begin(), payload.end());
  return array;
}

llvm::Expected<NpyArray> mlir::qat::readNpy(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return npyError(path, "cannot read: " + buffer.getError().message());
  return parseNpy((*buffer)->getBuffer(), path);
}

llvm::Error mlir::qat::writeNpy(StringRef path, const NpyArray &array) {
  std::string header = "{'descr': '" + npyDescr(array.elementType).str() +
                       "', 'fortran_order': False, 'shape': (";
  header += llvm::join(
      llvm::map_range(array.shape,
                      [](int64_t size) { return std::to_string(size); }),
      ", ");
  if (array.shape.size() == 1)
    header += ","; // Python's one-element tuple: (4,)
  header += "), }";
  // NumPy pads the header with spaces and a newline to a multiple of 64.
  size_t total = magic.size() + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  return writeFileAtomically(path, [&](llvm::raw_pwrite_stream &os) {
    os << magic << '\x01' << '\x00';
    os << static_cast<char>(header.size() & 0xff)
       << static_cast<char>(header.size() >> 8);
    os << header;
    os.write(array.data.data(), array.data.size());
    return llvm::Error::success();
  });
}
