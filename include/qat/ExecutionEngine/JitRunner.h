//===- JitRunner.h - run tensor functions on NumPy arrays -------*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_EXECUTIONENGINE_JITRUNNER_H
#define QAT_EXECUTIONENGINE_JITRUNNER_H

#include "qat/Support/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm::orc {
class LLJIT;
} // namespace llvm::orc

namespace mlir {
class ExecutionEngine;
} // namespace mlir

namespace mlir::qat {

/// The .npy element type that stores tensor elements of `type`, if any.
/// i1 is stored one byte per element, as LLVM stores it in memory.
std::optional<NpyElementType> npyTypeOf(Type type);

struct JitOptions {
  /// Shared libraries to load before running (e.g. mlir_c_runner_utils).
  std::vector<std::string> sharedLibs;
  /// LLVM optimization level, 0 to 3.
  unsigned optLevel = 2;
  /// Threads each large op is split over (OpenMP; sharedLibs must then
  /// hold libomp); 1: sequential code.
  unsigned threads = 1;
  /// int8 mmt4d microkernels (LowerToLLVMOptions::int8Isa); "host": the
  /// best this CPU runs; empty: loops. One this CPU lacks is an error.
  std::string int8Isa;
  /// How many times to call the entry function (for timing); the outputs
  /// are those of the last call. Every call sees the original inputs.
  unsigned calls = 1;
  /// Directory of the compile cache (CompileCache.h); empty: no cache.
  std::string cacheDir;
  /// Functions of this process the compiled code calls by name (the
  /// runtime of qat.all_reduce), resolved before any library's.
  std::vector<std::pair<std::string, void *>> symbols;
};

/// One argument or result of a compiled function: its .npy element type,
/// static shape (-1 for dynamic sizes) and the name given by its `qat.state`,
/// `qat.input`, `qat.output` or `qat.gradient` attribute (empty if none).
struct TensorSpec {
  NpyElementType elementType = NpyElementType::Float32;
  std::vector<int64_t> shape;
  std::string role; // "state", "input", "output", "gradient" or ""
  std::string name;
};

struct FunctionSpec {
  std::vector<TensorSpec> arguments;
  std::vector<TensorSpec> results;
};

/// Functions of a module compiled once by MLIR's ExecutionEngine and called
/// any number of times on NumPy arrays.
class JitModule {
public:
  ~JitModule();

  /// Lowers `module` (in place) with the qat-lower-to-llvm pipeline and
  /// JIT-compiles it, or, with options.cacheDir, links the object a
  /// previous compile of the same code left there (then `module` is not
  /// lowered) and stores the object there after compiling. Each of
  /// `entries` must be a func.func whose arguments and results are ranked
  /// tensors of .npy element types, results statically shaped. Errors are
  /// reported through `module`'s diagnostics.
  static FailureOr<std::unique_ptr<JitModule>>
  compile(ModuleOp module, ArrayRef<std::string> entries,
          const JitOptions &options);

  const FunctionSpec &spec(StringRef entry) const;
  bool hasEntry(StringRef entry) const { return specs.count(entry); }

  /// Calls `entry`. Compiled code may overwrite its argument buffers (one-shot
  /// bufferization treats function arguments as writable); the arrays in
  /// `results` are reused where their type and shape fit, else allocated.
  LogicalResult call(StringRef entry, MutableArrayRef<NpyArray> arguments,
                     std::vector<NpyArray> &results);

  double compileSeconds() const { return compileTime; }
  /// Whether the code came from the compile cache.
  bool loadedFromCache() const { return fromCache; }

private:
  JitModule() = default;
  /// Owns the code: the engine that compiled it, or the JIT that linked
  /// the cached object.
  std::unique_ptr<ExecutionEngine> engine;
  std::unique_ptr<llvm::orc::LLJIT> cachedCode;
  /// Each entry's packed wrapper (ExecutionEngine's calling convention:
  /// one array of pointers to the arguments and out-parameters).
  llvm::StringMap<void (*)(void **)> functions;
  bool fromCache = false;
  llvm::StringMap<FunctionSpec> specs;
  double compileTime = 0;
  MLIRContext *context = nullptr;
};

struct JitResult {
  /// One array per result of the entry function.
  std::vector<NpyArray> outputs;
  /// Seconds spent lowering and JIT-compiling (or loading from the cache).
  double compileSeconds = 0;
  bool loadedFromCache = false;
  /// Wall-clock seconds of each call.
  std::vector<double> callSeconds;
};

/// Tells glibc's allocator to keep freed memory in the process. Compiled
/// code allocates and frees its large temporaries on every call; by
/// default glibc maps each one anew and unmaps it on free, so every call
/// page-faults all of them in again (2.3x the time of a small CNN's
/// training step). Tools that call compiled code repeatedly use this.
void keepFreedMemoryInProcess();

/// Compiles `module` and calls `entry` on copies of `inputs`
/// (options.calls times); see JitModule.
FailureOr<JitResult> runJit(ModuleOp module, StringRef entry,
                            ArrayRef<NpyArray> inputs,
                            const JitOptions &options);

} // namespace mlir::qat

#endif // QAT_EXECUTIONENGINE_JITRUNNER_H
