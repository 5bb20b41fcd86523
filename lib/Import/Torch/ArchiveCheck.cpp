//===- ArchiveCheck.cpp - Validate a TorchScript archive ------------------===//
//
// Part of qat-mlir.
//
// The zip layer is libzip's (structure, sizes and CRC-32). The pickle walk
// is written here because no packaged C++ library reads pickles without
// executing them, and only the storages and tensor views matter: the walk
// follows the opcodes LibTorch's unpickler accepts, keeps strings, integers,
// globals and tuples, and stops quietly at an opcode it does not know
// (LibTorch then reports it).
//
//===----------------------------------------------------------------------===//

#include "qat/Import/Torch/ArchiveCheck.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <zip.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::qat;

namespace {

llvm::Error archiveError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

/// Pickles larger than this are refused (TorchScript's are kilobytes).
constexpr uint64_t kMaxPickleBytes = 256u << 20;

/// The entries of an archive: every entry's size, and the pickles' bytes.
struct ArchiveEntries {
  llvm::StringMap<uint64_t> sizes;
  std::vector<std::pair<std::string, std::string>> pickles;
};

/// Opens the archive with libzip's consistency checks and reads every entry
/// to its end, which is where libzip compares the CRC-32.
llvm::Expected<ArchiveEntries> readEntries(llvm::StringRef bytes) {
  zip_error_t error;
  zip_error_init(&error);
  auto errorText = [](zip_error_t *error) {
    std::string text = zip_error_strerror(error);
    zip_error_fini(error);
    return text;
  };
  zip_source_t *source =
      zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!source)
    return archiveError("cannot read the archive: " + errorText(&error));
  zip_t *archive =
      zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!archive) {
    zip_source_free(source);
    return archiveError("not a valid zip archive (" + errorText(&error) + ")");
  }
  zip_error_fini(&error);
  std::unique_ptr<zip_t, void (*)(zip_t *)> closer(archive, zip_discard);

  ArchiveEntries entries;
  zip_int64_t count = zip_get_num_entries(archive, 0);
  std::vector<char> buffer(1 << 16);
  for (zip_int64_t index = 0; index < count; ++index) {
    zip_stat_t stat;
    if (zip_stat_index(archive, index, 0, &stat) != 0 ||
        !(stat.valid & ZIP_STAT_NAME) || !(stat.valid & ZIP_STAT_SIZE))
      return archiveError(llvm::formatv("entry {0} of the zip directory is "
                                        "unreadable ({1})",
                                        index, zip_strerror(archive)));
    std::string name = stat.name;
    bool isPickle = llvm::StringRef(name).ends_with(".pkl");
    if (isPickle && stat.size > kMaxPickleBytes)
      return archiveError("pickle '" + name + "' is larger than 256 MiB");
    zip_file_t *file = zip_fopen_index(archive, index, 0);
    if (!file)
      return archiveError("cannot open entry '" + name +
                          "': " + zip_strerror(archive));
    std::string contents;
    uint64_t total = 0;
    zip_int64_t read;
    while ((read = zip_fread(file, buffer.data(), buffer.size())) > 0) {
      total += read;
      if (isPickle)
        contents.append(buffer.data(), read);
    }
    std::string readError = read < 0 ? zip_file_strerror(file) : "";
    zip_fclose(file);
    if (read < 0)
      return archiveError("entry '" + name + "' is corrupt (" + readError +
                          ")");
    if (total != stat.size)
      return archiveError(llvm::formatv("entry '{0}' holds {1} bytes, the zip "
                                        "directory promises {2}",
                                        name, total, stat.size));
    entries.sizes[name] = stat.size;
    if (isPickle)
      entries.pickles.emplace_back(name, std::move(contents));
  }
  return entries;
}

/// Bytes per element of a `torch.<Name>Storage`; 0 for unknown names.
int64_t storageItemBytes(llvm::StringRef global) {
  if (!global.consume_front("torch ") || !global.consume_back("Storage"))
    return 0;
  return llvm::StringSwitch<int64_t>(global)
      .Cases({"Double", "Long", "ComplexFloat"}, 8)
      .Cases({"Float", "Int", "QInt32", "ComplexHalf"}, 4)
      .Cases({"Half", "BFloat16", "Short"}, 2)
      .Cases(
          {"Char", "Byte", "Bool", "QInt8", "QUInt8", "QUInt4x2", "QUInt2x4"},
          1)
      .Case("ComplexDouble", 16)
      .Default(0);
}

/// A value on the pickle machine's stack, as far as the check needs it.
struct Value {
  enum class Kind { Other, Int, String, Global, Tuple, Storage } kind;
  int64_t integer = 0;   // Int; Storage: elements
  std::string text;      // String; Global "module name"; Storage: key
  int64_t itemBytes = 0; // Storage
  std::vector<std::shared_ptr<Value>> items; // Tuple
};
using ValuePtr = std::shared_ptr<Value>;

ValuePtr makeValue(Value::Kind kind) {
  auto value = std::make_shared<Value>();
  value->kind = kind;
  return value;
}

/// Walks one pickle. `storageDir` is `<dir>/<name>/`, where its storages
/// live.
class PickleWalker {
public:
  PickleWalker(llvm::StringRef pickleName, llvm::StringRef bytes,
               std::string storageDir, const ArchiveEntries &entries)
      : pickleName(pickleName), bytes(bytes), storageDir(std::move(storageDir)),
        entries(entries) {}

  llvm::Error walk();

private:
  llvm::Error error(const llvm::Twine &message) {
    return archiveError("pickle '" + pickleName + "' at byte " +
                        llvm::Twine(opcodeOffset) + ": " + message);
  }
  bool take(size_t count, llvm::StringRef &out) {
    if (bytes.size() - position < count)
      return false;
    out = bytes.substr(position, count);
    position += count;
    return true;
  }
  /// A little-endian unsigned integer of `count` bytes.
  bool takeUnsigned(size_t count, uint64_t &out) {
    llvm::StringRef raw;
    if (!take(count, raw))
      return false;
    out = 0;
    for (size_t i = 0; i < count; ++i)
      out |= uint64_t(uint8_t(raw[i])) << (8 * i);
    return true;
  }
  bool takeLine(std::string &out) {
    size_t end = bytes.find('\n', position);
    if (end == llvm::StringRef::npos)
      return false;
    out = bytes.substr(position, end - position).str();
    position = end + 1;
    return true;
  }
  llvm::Expected<ValuePtr> pop() {
    if (stack.empty() || (!marks.empty() && stack.size() == marks.back()))
      return error("pops an empty stack");
    ValuePtr value = stack.back();
    stack.pop_back();
    return value;
  }
  llvm::Expected<std::vector<ValuePtr>> popToMark() {
    if (marks.empty())
      return error("has no mark to pop to");
    std::vector<ValuePtr> items(stack.begin() + marks.back(), stack.end());
    stack.resize(marks.back());
    marks.pop_back();
    return items;
  }
  llvm::Expected<ValuePtr> persistentLoad(ValuePtr id);
  llvm::Error checkTensorView(const Value &args);

  std::string pickleName;
  llvm::StringRef bytes;
  std::string storageDir;
  const ArchiveEntries &entries;
  size_t position = 0, opcodeOffset = 0;
  std::vector<ValuePtr> stack;
  std::vector<size_t> marks;
  std::map<uint64_t, ValuePtr> memo;
};

/// ('storage', torch.<T>Storage, key, location, elements): the storage must
/// be an entry of the archive holding at least elements * sizeof(T) bytes.
llvm::Expected<ValuePtr> PickleWalker::persistentLoad(ValuePtr id) {
  const auto &items = id->items;
  if (id->kind != Value::Kind::Tuple || items.size() != 5 ||
      items[0]->kind != Value::Kind::String || items[0]->text != "storage" ||
      items[1]->kind != Value::Kind::Global ||
      items[2]->kind != Value::Kind::String ||
      items[4]->kind != Value::Kind::Int)
    return makeValue(Value::Kind::Other);
  int64_t itemBytes = storageItemBytes(items[1]->text);
  if (itemBytes == 0)
    return makeValue(Value::Kind::Other);
  int64_t elements = items[4]->integer, storageBytes = 0;
  if (elements < 0 || llvm::MulOverflow(elements, itemBytes, storageBytes))
    return error(llvm::formatv("storage '{0}' declares {1} elements",
                               items[2]->text, elements));
  std::string entry = storageDir + items[2]->text;
  auto found = entries.sizes.find(entry);
  if (found == entries.sizes.end())
    return error("names storage '" + entry +
                 "', which the archive does not hold");
  if (found->second < static_cast<uint64_t>(storageBytes))
    return error(llvm::formatv(
        "storage '{0}' holds {1} bytes, the pickle declares {2} elements of "
        "{3} bytes ({4} bytes): the entry is truncated",
        entry, found->second, elements, itemBytes, storageBytes));
  ValuePtr storage = makeValue(Value::Kind::Storage);
  storage->text = entry;
  storage->integer = elements;
  storage->itemBytes = itemBytes;
  return storage;
}

/// _rebuild_tensor_v2 / _rebuild_qtensor(storage, offset, sizes, strides,
/// ...): every element the view can address must lie inside the storage.
llvm::Error PickleWalker::checkTensorView(const Value &args) {
  if (args.kind != Value::Kind::Tuple || args.items.size() < 4 ||
      args.items[0]->kind != Value::Kind::Storage ||
      args.items[1]->kind != Value::Kind::Int ||
      args.items[2]->kind != Value::Kind::Tuple ||
      args.items[3]->kind != Value::Kind::Tuple ||
      args.items[2]->items.size() != args.items[3]->items.size())
    return llvm::Error::success();
  const Value &storage = *args.items[0];
  int64_t offset = args.items[1]->integer, last = offset;
  bool empty = false, valid = offset >= 0;
  for (auto [size, stride] :
       llvm::zip_equal(args.items[2]->items, args.items[3]->items)) {
    if (size->kind != Value::Kind::Int || stride->kind != Value::Kind::Int)
      return llvm::Error::success();
    int64_t extent = 0;
    valid &= size->integer >= 0 && stride->integer >= 0;
    empty |= size->integer == 0;
    if (valid && size->integer > 0)
      valid &= !llvm::MulOverflow(size->integer - 1, stride->integer, extent) &&
               !llvm::AddOverflow(last, extent, last);
  }
  if (!valid)
    return error("a tensor over storage '" + storage.text +
                 "' has a negative or overflowing offset, size or stride");
  if (!empty && last >= storage.integer)
    return error(llvm::formatv("a tensor reads element {0} of storage '{1}', "
                               "which holds {2} elements",
                               last, storage.text, storage.integer));
  return llvm::Error::success();
}

llvm::Error PickleWalker::walk() {
  using Kind = Value::Kind;
  auto push = [&](ValuePtr value) { stack.push_back(std::move(value)); };
  auto pushString = [&](size_t lengthBytes) -> llvm::Error {
    uint64_t length;
    llvm::StringRef text;
    if (!takeUnsigned(lengthBytes, length) || !take(length, text))
      return error("truncated string");
    ValuePtr value = makeValue(Kind::String);
    value->text = text.str();
    push(value);
    return llvm::Error::success();
  };
  auto pushInt = [&](int64_t integer) {
    ValuePtr value = makeValue(Kind::Int);
    value->integer = integer;
    push(value);
  };
  auto pushTuple = [&](std::vector<ValuePtr> items) {
    ValuePtr value = makeValue(Kind::Tuple);
    value->items = std::move(items);
    push(value);
  };
  auto popN = [&](size_t count) -> llvm::Expected<std::vector<ValuePtr>> {
    std::vector<ValuePtr> items(count);
    for (size_t i = count; i > 0; --i) {
      auto value = pop();
      if (!value)
        return value.takeError();
      items[i - 1] = *value;
    }
    return items;
  };

  while (position < bytes.size()) {
    opcodeOffset = position;
    uint8_t opcode = bytes[position++];
    uint64_t argument = 0;
    switch (opcode) {
    case 0x80: // PROTO
      if (!takeUnsigned(1, argument))
        return error("truncated PROTO");
      break;
    case 0x95: // FRAME
      if (!takeUnsigned(8, argument))
        return error("truncated FRAME");
      break;
    case '.': // STOP
      return llvm::Error::success();
    case 'c': { // GLOBAL module\nname\n
      std::string module, name;
      if (!takeLine(module) || !takeLine(name))
        return error("truncated GLOBAL");
      ValuePtr value = makeValue(Kind::Global);
      value->text = module + " " + name;
      push(value);
      break;
    }
    case 'q':  // BINPUT
    case 'r':  // LONG_BINPUT
    case 0x94: // MEMOIZE
      if (opcode != 0x94 && !takeUnsigned(opcode == 'q' ? 1 : 4, argument))
        return error("truncated memo index");
      if (stack.empty())
        return error("memoizes an empty stack");
      memo[opcode == 0x94 ? memo.size() : argument] = stack.back();
      break;
    case 'h':   // BINGET
    case 'j': { // LONG_BINGET
      if (!takeUnsigned(opcode == 'h' ? 1 : 4, argument))
        return error("truncated memo index");
      auto found = memo.find(argument);
      if (found == memo.end())
        return error(
            llvm::formatv("reads memo entry {0}, never stored", argument));
      push(found->second);
      break;
    }
    case '(': // MARK
      marks.push_back(stack.size());
      break;
    case 't':    // TUPLE
    case 'l':    // LIST
    case 'd':    // DICT
    case 0x91: { // FROZENSET
      auto items = popToMark();
      if (!items)
        return items.takeError();
      if (opcode == 't')
        pushTuple(std::move(*items));
      else
        push(makeValue(Kind::Other));
      break;
    }
    case ')': // EMPTY_TUPLE
      pushTuple({});
      break;
    case 0x85:   // TUPLE1
    case 0x86:   // TUPLE2
    case 0x87: { // TUPLE3
      auto items = popN(opcode - 0x84);
      if (!items)
        return items.takeError();
      pushTuple(std::move(*items));
      break;
    }
    case ']':  // EMPTY_LIST
    case '}':  // EMPTY_DICT
    case 0x8f: // EMPTY_SET
    case 'N':  // NONE
    case 0x88: // NEWTRUE
    case 0x89: // NEWFALSE
      push(makeValue(Kind::Other));
      break;
    case 'a':   // APPEND
    case 'b':   // BUILD
    case '0': { // POP
      auto items = popN(1);
      if (!items)
        return items.takeError();
      break;
    }
    case 's': { // SETITEM
      auto items = popN(2);
      if (!items)
        return items.takeError();
      break;
    }
    case 'e':   // APPENDS
    case 'u':   // SETITEMS
    case 0x90:  // ADDITEMS
    case '1': { // POP_MARK
      auto items = popToMark();
      if (!items)
        return items.takeError();
      break;
    }
    case '2': // DUP
      if (stack.empty())
        return error("duplicates an empty stack");
      push(stack.back());
      break;
    case 'X': // BINUNICODE
    case 'T': // BINSTRING
    case 'B': // BINBYTES
      if (auto failure = pushString(4))
        return failure;
      break;
    case 0x8c: // SHORT_BINUNICODE
    case 'U':  // SHORT_BINSTRING
    case 'C':  // SHORT_BINBYTES
      if (auto failure = pushString(1))
        return failure;
      break;
    case 0x8d: // BINUNICODE8
    case 0x8e: // BINBYTES8
      if (auto failure = pushString(8))
        return failure;
      break;
    case 'K': // BININT1
    case 'M': // BININT2
      if (!takeUnsigned(opcode == 'K' ? 1 : 2, argument))
        return error("truncated integer");
      pushInt(static_cast<int64_t>(argument));
      break;
    case 'J': // BININT
      if (!takeUnsigned(4, argument))
        return error("truncated integer");
      pushInt(static_cast<int32_t>(static_cast<uint32_t>(argument)));
      break;
    case 0x8a: { // LONG1: a little-endian two's complement of n bytes
      uint64_t length;
      llvm::StringRef raw;
      if (!takeUnsigned(1, length) || !take(length, raw))
        return error("truncated LONG1");
      if (length == 0 || length > 8) {
        push(makeValue(Kind::Other));
        break;
      }
      uint64_t value = 0;
      for (size_t i = 0; i < length; ++i)
        value |= uint64_t(uint8_t(raw[i])) << (8 * i);
      if (length < 8 && (raw[length - 1] & 0x80))
        value |= ~uint64_t(0) << (8 * length);
      pushInt(static_cast<int64_t>(value));
      break;
    }
    case 'G': { // BINFLOAT
      llvm::StringRef raw;
      if (!take(8, raw))
        return error("truncated BINFLOAT");
      push(makeValue(Kind::Other));
      break;
    }
    case 0x93: { // STACK_GLOBAL
      auto items = popN(2);
      if (!items)
        return items.takeError();
      ValuePtr value = makeValue(Kind::Global);
      value->text = (*items)[0]->text + " " + (*items)[1]->text;
      push(value);
      break;
    }
    case 'Q': { // BINPERSID
      auto id = pop();
      if (!id)
        return id.takeError();
      auto storage = persistentLoad(*id);
      if (!storage)
        return storage.takeError();
      push(*storage);
      break;
    }
    case 'R': { // REDUCE
      auto items = popN(2);
      if (!items)
        return items.takeError();
      const Value &callable = *(*items)[0];
      if (callable.kind == Kind::Global &&
          (callable.text == "torch._utils _rebuild_tensor_v2" ||
           callable.text == "torch._utils _rebuild_qtensor"))
        if (auto failure = checkTensorView(*(*items)[1]))
          return failure;
      push(makeValue(Kind::Other));
      break;
    }
    case 0x81: { // NEWOBJ
      auto items = popN(2);
      if (!items)
        return items.takeError();
      push(makeValue(Kind::Other));
      break;
    }
    default:
      // An opcode LibTorch's unpickler does not use either: it reports it.
      return llvm::Error::success();
    }
  }
  return error("ends without STOP");
}

} // namespace

llvm::Error mlir::qat::checkTorchArchive(llvm::StringRef bytes) {
  auto entries = readEntries(bytes);
  if (!entries)
    return entries.takeError();
  if (llvm::none_of(entries->pickles, [](const auto &pickle) {
        return llvm::StringRef(pickle.first).ends_with("/data.pkl");
      }))
    return archiveError("the zip archive holds no 'data.pkl' (not a "
                        "TorchScript archive)");
  for (const auto &[pickleName, contents] : entries->pickles) {
    std::string storageDir =
        llvm::StringRef(pickleName).drop_back(4).str() + "/";
    PickleWalker walker(pickleName, contents, storageDir, *entries);
    if (llvm::Error failure = walker.walk())
      return failure;
  }
  return llvm::Error::success();
}
