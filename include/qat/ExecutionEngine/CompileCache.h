//===- CompileCache.h - compiled objects kept between runs ------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//
//
// JIT compilation of a training step takes minutes for a MobileNetV2
// (lowering, LLVM's optimizer and code generation of a ~200 MB LLVM
// module), and runs that differ only in data, seed, schedule or initial
// weights compile the same code. The cache keeps the object code
// ExecutionEngine generated, keyed by everything that determines it, and
// later runs link that object instead of compiling.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_EXECUTIONENGINE_COMPILECACHE_H
#define QAT_EXECUTIONENGINE_COMPILECACHE_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>

namespace mlir::qat {

/// The environment variable that gives the tools' default cache directory.
inline constexpr const char *kCompileCacheEnv = "QAT_MLIR_CACHE_DIR";

/// `flag` if set, else $QAT_MLIR_CACHE_DIR, else "" (no cache).
std::string compileCacheDir(llvm::StringRef flag);

/// The cache key (64 hex digits of SHA-256) of compiling `module`'s
/// `entries`. It covers the module's text without locations (so the
/// weights held in globals no entry uses, the seeds given as runtime inputs
/// and the model's file name do not count), `settings` (the compile
/// options, in the caller's words), the host CPU and its features, LLVM's
/// version, and the bytes of the binary holding qat-mlir's passes: a
/// rebuilt compiler never reuses an older one's objects.
std::string compileCacheKey(ModuleOp module,
                            llvm::ArrayRef<std::string> entries,
                            llvm::StringRef settings);

/// The cached object for `key` in `dir`, or null when there is none. A
/// file that is not a readable object is reported through `warning` and
/// treated as missing (it is replaced by the next store).
std::unique_ptr<llvm::MemoryBuffer> readCachedObject(llvm::StringRef dir,
                                                     llvm::StringRef key,
                                                     std::string &warning);

/// Stores the entry for `key` in `dir` (created if missing):
/// `writeObject` writes the object to the temporary path it is given (as
/// ExecutionEngine::dumpToObjectFile does), which is checked to be a
/// complete object file and renamed into place, so readers never see a
/// partial entry. The temporary file is removed either way.
llvm::Error
storeCachedObject(llvm::StringRef dir, llvm::StringRef key,
                  llvm::function_ref<void(llvm::StringRef)> writeObject);

/// The help text of the tools' --cache-dir option.
inline constexpr const char *kCompileCacheDirHelp =
    "Keep compiled code in this directory and reuse it when the same code is "
    "compiled again (default: $QAT_MLIR_CACHE_DIR; unset: no cache)";

} // namespace mlir::qat

#endif // QAT_EXECUTIONENGINE_COMPILECACHE_H
