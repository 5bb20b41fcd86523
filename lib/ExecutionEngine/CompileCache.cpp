//===- CompileCache.cpp - compiled objects kept between runs ----*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/ExecutionEngine/CompileCache.h"

#include "mlir/IR/OperationSupport.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <cstdlib>
#include <dlfcn.h>
#include <limits>

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Feeds what is printed to it into a SHA-256, so that a large module is
/// hashed without holding its text.
class HashingStream : public llvm::raw_ostream {
public:
  explicit HashingStream(llvm::SHA256 &hasher) : hasher(hasher) {}
  ~HashingStream() override { flush(); }

private:
  void write_impl(const char *data, size_t size) override {
    hasher.update(llvm::StringRef(data, size));
    written += size;
  }
  uint64_t current_pos() const override { return written; }

  llvm::SHA256 &hasher;
  uint64_t written = 0;
};

/// Adds `text` and a separator that no text holds, so that adjacent fields
/// cannot run into each other.
void addField(llvm::SHA256 &hasher, llvm::StringRef text) {
  hasher.update(text);
  hasher.update(llvm::StringRef("\0", 1));
}

/// SHA-256 of the file that holds this code (the tool, or a shared library
/// linking qat-mlir); empty if it cannot be read. Computed once.
llvm::StringRef compilerDigest() {
  static const std::string digest = [] {
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&compileCacheKey), &info) ||
        !info.dli_fname)
      return std::string();
    auto file = llvm::MemoryBuffer::getFile(info.dli_fname);
    if (!file)
      return std::string();
    return llvm::toHex(
        llvm::SHA256::hash(llvm::arrayRefFromStringRef((*file)->getBuffer())));
  }();
  return digest;
}

std::string entryPath(llvm::StringRef dir, llvm::StringRef key) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, key + ".o");
  return std::string(path);
}

} // namespace

std::string mlir::qat::compileCacheDir(llvm::StringRef flag) {
  if (!flag.empty())
    return flag.str();
  if (const char *env = std::getenv(kCompileCacheEnv))
    return env;
  return "";
}

std::string mlir::qat::compileCacheKey(ModuleOp module,
                                       llvm::ArrayRef<std::string> entries,
                                       llvm::StringRef settings) {
  llvm::SHA256 hasher;
  addField(hasher, "qat-mlir compile cache 1");
  addField(hasher, LLVM_VERSION_STRING);
  addField(hasher, compilerDigest());
  addField(hasher, llvm::sys::getHostCPUName());
  // Sorted: the map's order is not specified.
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  std::vector<std::string> enabled;
  for (const auto &feature : features)
    if (feature.getValue())
      enabled.push_back(feature.getKey().str());
  llvm::sort(enabled);
  addField(hasher, llvm::join(enabled, ","));
  addField(hasher, settings);
  for (const std::string &entry : entries)
    addField(hasher, entry);
  {
    HashingStream stream(hasher);
    // Every constant in full (whatever the command line says about
    // eliding), and no locations: they name the model's file, which does
    // not change the code.
    module->print(stream, OpPrintingFlags()
                              .elideLargeElementsAttrs(
                                  std::numeric_limits<int64_t>::max())
                              .enableDebugInfo(false));
  }
  return llvm::toHex(hasher.final(), /*LowerCase=*/true);
}

std::unique_ptr<llvm::MemoryBuffer>
mlir::qat::readCachedObject(llvm::StringRef dir, llvm::StringRef key,
                            std::string &warning) {
  std::string path = entryPath(dir, key);
  if (!llvm::sys::fs::exists(path))
    return nullptr;
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    warning = "cannot read the cached object '" + path +
              "': " + buffer.getError().message();
    return nullptr;
  }
  if (auto object = llvm::object::ObjectFile::createObjectFile(
          (*buffer)->getMemBufferRef());
      !object) {
    warning = "ignoring the cached object '" + path +
              "': " + llvm::toString(object.takeError());
    return nullptr;
  }
  return std::move(*buffer);
}

llvm::Error mlir::qat::storeCachedObject(
    llvm::StringRef dir, llvm::StringRef key,
    llvm::function_ref<void(llvm::StringRef)> writeObject) {
  if (std::error_code error = llvm::sys::fs::create_directories(dir))
    return llvm::createStringError(error,
                                   "cannot create the cache directory '" + dir +
                                       "': " + error.message());
  // Named per process, so concurrent runs never write the same file.
  std::string temporary = entryPath(dir, key) + ".tmp-" +
                          std::to_string(llvm::sys::Process::getProcessId());
  llvm::scope_exit removeTemporary([&] { llvm::sys::fs::remove(temporary); });
  writeObject(temporary);
  auto buffer = llvm::MemoryBuffer::getFile(temporary);
  if (!buffer)
    return llvm::createStringError(buffer.getError(),
                                   "cannot store the compiled code in the "
                                   "cache: it was not written");
  if (auto object = llvm::object::ObjectFile::createObjectFile(
          (*buffer)->getMemBufferRef());
      !object)
    return llvm::createStringError(
        "cannot store the compiled code in the cache: " +
        llvm::toString(object.takeError()));
  if (std::error_code error =
          llvm::sys::fs::rename(temporary, entryPath(dir, key)))
    return llvm::createStringError(error,
                                   "cannot rename '" + temporary +
                                       "' into the cache: " + error.message());
  return llvm::Error::success();
}
