//===- JitRunner.cpp - run a tensor function on NumPy arrays ----*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/ExecutionEngine/JitRunner.h"
#include "qat/Codegen/CPU/Targets.h"
#include "qat/ExecutionEngine/CompileCache.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Support/CodegenOptions.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ExecutionEngine/JITEventListener.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/SectionMemoryManager.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/TargetSelect.h"

#include <algorithm>
#include <chrono>
#include <malloc.h>

using namespace mlir;
using namespace mlir::qat;

std::optional<NpyElementType> mlir::qat::npyTypeOf(Type type) {
  if (type.isF32())
    return NpyElementType::Float32;
  if (type.isF64())
    return NpyElementType::Float64;
  if (auto intType = dyn_cast<IntegerType>(type)) {
    switch (intType.getWidth()) {
    case 1:
      return NpyElementType::Bool;
    case 8:
      return intType.isUnsigned() ? NpyElementType::UInt8
                                  : NpyElementType::Int8;
    case 16:
      return NpyElementType::Int16;
    case 32:
      return NpyElementType::Int32;
    case 64:
      return NpyElementType::Int64;
    }
  }
  return std::nullopt;
}

namespace {

/// A memref descriptor as the C interface lays it out: allocated pointer,
/// aligned pointer, offset, sizes[rank], strides[rank]; every field is 8
/// bytes, so it is stored as int64 words.
std::vector<int64_t> makeDescriptor(NpyArray &array) {
  int64_t rank = array.shape.size();
  std::vector<int64_t> words(3 + 2 * rank);
  auto address = reinterpret_cast<intptr_t>(array.data.data());
  words[0] = words[1] = address;
  words[2] = 0;
  int64_t stride = 1;
  for (int64_t dim = rank - 1; dim >= 0; --dim) {
    words[3 + dim] = array.shape[dim];
    words[3 + rank + dim] = stride;
    stride *= array.shape[dim];
  }
  return words;
}

/// The spec of a function argument or result, or an error for types .npy
/// exchange cannot carry.
FailureOr<TensorSpec> specOf(func::FuncOp func, Type type, DictionaryAttr attrs,
                             StringRef what, unsigned index,
                             bool requireStatic) {
  auto tensorType = dyn_cast<RankedTensorType>(type);
  std::optional<NpyElementType> npyType =
      tensorType ? npyTypeOf(tensorType.getElementType()) : std::nullopt;
  if (!npyType || (requireStatic && !tensorType.hasStaticShape()))
    return func.emitError()
           << what << " " << index << " must be a "
           << (requireStatic ? "statically shaped " : "ranked ")
           << "tensor of a .npy element type, got " << type;
  TensorSpec spec;
  spec.elementType = *npyType;
  for (int64_t size : tensorType.getShape())
    spec.shape.push_back(ShapedType::isDynamic(size) ? -1 : size);
  for (StringRef role : {"state", "input", "output", "gradient"})
    if (attrs)
      if (auto name = attrs.getAs<StringAttr>(("qat." + role).str())) {
        spec.role = role.str();
        spec.name = name.getValue().str();
      }
  return spec;
}

LogicalResult checkInput(MLIRContext *context, StringRef entry, unsigned index,
                         const TensorSpec &spec, const NpyArray &input) {
  Location loc = UnknownLoc::get(context);
  if (spec.elementType != input.elementType)
    return emitError(loc) << "input " << index << " of '" << entry
                          << "' has dtype '" << npyDescr(input.elementType)
                          << "' but the argument is '"
                          << npyDescr(spec.elementType) << "'";
  bool shapeMatches = input.shape.size() == spec.shape.size();
  for (size_t dim = 0; shapeMatches && dim < spec.shape.size(); ++dim)
    shapeMatches = spec.shape[dim] < 0 || spec.shape[dim] == input.shape[dim];
  if (!shapeMatches) {
    auto join = [](ArrayRef<int64_t> shape) {
      return llvm::join(llvm::map_range(shape,
                                        [](int64_t size) {
                                          return size < 0
                                                     ? std::string("?")
                                                     : std::to_string(size);
                                        }),
                        ", ");
    };
    return emitError(loc) << "input " << index << " of '" << entry
                          << "' has shape (" << join(input.shape)
                          << ") but the argument's is (" << join(spec.shape)
                          << ")";
  }
  return success();
}

/// Checks `input` against argument `index` of `func` before compiling, with
/// messages in terms of the function's types.
LogicalResult checkInputType(func::FuncOp func, unsigned index, Type type,
                             const NpyArray &input) {
  auto tensorType = dyn_cast<RankedTensorType>(type);
  if (!tensorType)
    return func.emitError() << "argument " << index
                            << " must be a ranked tensor to be fed from .npy, "
                            << "got " << type;
  std::optional<NpyElementType> expected =
      npyTypeOf(tensorType.getElementType());
  if (!expected)
    return func.emitError() << "argument " << index << " has element type "
                            << tensorType.getElementType()
                            << ", which .npy exchange does not support";
  if (*expected != input.elementType)
    return func.emitError()
           << "input " << index << " has dtype '" << npyDescr(input.elementType)
           << "' but argument " << index << " is " << type << " (dtype '"
           << npyDescr(*expected) << "')";
  bool shapeMatches =
      static_cast<int64_t>(input.shape.size()) == tensorType.getRank();
  for (int64_t dim = 0; shapeMatches && dim < tensorType.getRank(); ++dim)
    shapeMatches = tensorType.isDynamicDim(dim) ||
                   tensorType.getDimSize(dim) == input.shape[dim];
  if (!shapeMatches) {
    std::string shape = llvm::join(
        llvm::map_range(input.shape,
                        [](int64_t size) { return std::to_string(size); }),
        ", ");
    return func.emitError() << "input " << index << " has shape (" << shape
                            << ") which does not fit argument type " << type;
  }
  return success();
}

/// The C-interface function ExecutionEngine wraps for `entry`.
std::string cInterfaceName(StringRef entry) {
  return ("_mlir_ciface_" + entry).str();
}

/// Cached code, linked: the JIT that owns it and each entry's packed
/// wrapper.
struct LinkedObject {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  llvm::StringMap<void (*)(void **)> functions;
};

/// Links an object compiled by ExecutionEngine (packed wrappers included)
/// into a JIT of its own, resolving its symbols as ExecutionEngine does:
/// in `sharedLibs` and in the process. ExecutionEngine itself only takes
/// MLIR; this is the part of it a compiled object needs.
/// `symbols` as JIT symbols under the data layout's mangling.
llvm::orc::SymbolMap
symbolMap(llvm::orc::MangleAndInterner &mangle,
          ArrayRef<std::pair<std::string, void *>> symbols) {
  llvm::orc::SymbolMap map;
  for (const auto &[name, address] : symbols)
    map[mangle(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                         llvm::JITSymbolFlags::Exported};
  return map;
}

llvm::Expected<LinkedObject>
linkObject(std::unique_ptr<llvm::MemoryBuffer> object,
           ArrayRef<std::string> sharedLibs, ArrayRef<std::string> entries,
           ArrayRef<std::pair<std::string, void *>> symbols) {
  for (const std::string &lib : sharedLibs) {
    std::string error;
    auto library =
        llvm::sys::DynamicLibrary::getPermanentLibrary(lib.c_str(), &error);
    if (!library.isValid())
      return llvm::createStringError("cannot load '" + lib + "': " + error);
    // Such a library hands its symbols to ExecutionEngine instead of
    // exporting them; only a compile can link against it.
    if (library.getAddressOfSymbol(ExecutionEngine::kLibraryInitFnName))
      return llvm::createStringError(
          "'" + lib + "' registers its symbols with ExecutionEngine");
  }
  auto jit =
      llvm::orc::LLJITBuilder()
          .setObjectLinkingLayerCreator(
              [](llvm::orc::ExecutionSession &session)
                  -> llvm::Expected<std::unique_ptr<llvm::orc::ObjectLayer>> {
                auto layer =
                    std::make_unique<llvm::orc::RTDyldObjectLinkingLayer>(
                        session, [](const llvm::MemoryBuffer &) {
                          return std::make_unique<llvm::SectionMemoryManager>();
                        });
                // As ExecutionEngine: debuggers and perf see the code.
                layer->registerJITEventListener(
                    *llvm::JITEventListener::createGDBRegistrationListener());
                if (auto *perf =
                        llvm::JITEventListener::createPerfJITEventListener())
                  layer->registerJITEventListener(*perf);
                return layer;
              })
          .create();
  if (!jit)
    return jit.takeError();
  llvm::orc::JITDylib &main = (*jit)->getMainJITDylib();
  if (!symbols.empty()) {
    llvm::orc::MangleAndInterner mangle((*jit)->getExecutionSession(),
                                        (*jit)->getDataLayout());
    if (llvm::Error error =
            main.define(llvm::orc::absoluteSymbols(symbolMap(mangle, symbols))))
      return std::move(error);
  }
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process)
    return process.takeError();
  main.addGenerator(std::move(*process));
  if (llvm::Error error = (*jit)->addObjectFile(std::move(object)))
    return std::move(error);
  if (llvm::Error error = (*jit)->initialize(main))
    return std::move(error);
  LinkedObject linked;
  for (const std::string &entry : entries) {
    // ExecutionEngine's name for the packed wrapper.
    auto address = (*jit)->lookup("_mlir_" + cInterfaceName(entry));
    if (!address)
      return address.takeError();
    linked.functions[entry] = address->toPtr<void (*)(void **)>();
  }
  linked.jit = std::move(*jit);
  return linked;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

JitModule::~JitModule() = default;

FailureOr<std::unique_ptr<JitModule>>
JitModule::compile(ModuleOp module, ArrayRef<std::string> entries,
                   const JitOptions &options) {
  std::unique_ptr<JitModule> jit(new JitModule());
  jit->context = module.getContext();
  // The code runs here: an int8 microkernel this CPU lacks would end in an
  // LLVM fatal error (AVX-512 on an AVX2 CPU) or an illegal instruction.
  std::string int8Isa = options.int8Isa;
  if (int8Isa == "host") {
    const Int8Microkernel *best = hostInt8Microkernel();
    int8Isa = best ? best->name.str() : "";
  } else if (!int8Isa.empty()) {
    const Int8Microkernel *kernel = lookupInt8Microkernel(int8Isa);
    if (!kernel)
      return module.emitError() << "unknown int8 isa '" << int8Isa << "' ("
                                << int8MicrokernelNames() << ", or host)";
    if (!int8MicrokernelRunsOn(*kernel, hostCpuFeatures())) {
      const Int8Microkernel *best = hostInt8Microkernel();
      return module.emitError()
             << "int8 isa '" << int8Isa
             << "' needs CPU features this CPU lacks; it runs "
             << (best ? "'" + best->name.str() + "'" : "none of them")
             << " (or 'host': its best)";
    }
  }
  for (const std::string &entry : entries) {
    auto func = module.lookupSymbol<func::FuncOp>(entry);
    if (!func || func.isExternal())
      return module.emitError()
             << "no function named '" << entry << "' with a body in the module";
    FunctionSpec spec;
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      auto arg = specOf(func, func.getArgument(i).getType(),
                        func.getArgAttrDict(i), "argument", i, false);
      if (failed(arg))
        return failure();
      spec.arguments.push_back(*arg);
    }
    for (unsigned i = 0; i < func.getNumResults(); ++i) {
      auto result = specOf(func, func.getResultTypes()[i],
                           func.getResultAttrDict(i), "result", i, true);
      if (failed(result))
        return failure();
      spec.results.push_back(*result);
    }
    jit->specs[entry] = std::move(spec);
    func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  UnitAttr::get(module.getContext()));
  }

  // The qat.* argument and result names are for drivers; LLVM's translation
  // would warn about them.
  for (auto func : module.getOps<func::FuncOp>()) {
    func.removeArgAttrsAttr();
    func.removeResAttrsAttr();
  }

  auto compileStart = std::chrono::steady_clock::now();
  // Compile only what the entries need: everything else becomes private,
  // and symbol-dce drops what no entry reaches (the globals too, so the
  // cache key does not see the initial weights).
  for (auto func : module.getOps<func::FuncOp>())
    if (!llvm::is_contained(entries, func.getName().str()))
      func.setPrivate();
  PassManager prune(module.getContext());
  buildEntryPruningPipeline(prune);
  if (failed(prune.run(module)))
    return failure();

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string cacheKey;
  VectorRegisters registers = hostVectorRegisters();
  if (!options.cacheDir.empty()) {
    std::string settings =
        llvm::formatv("O{0} threads={1} int8-isa={2} vectors={3}x{4}",
                      options.optLevel, options.threads, int8Isa,
                      registers.bits, registers.count)
            .str();
    cacheKey = compileCacheKey(module, entries, settings);
    std::string warning;
    if (auto object = readCachedObject(options.cacheDir, cacheKey, warning)) {
      auto linked = linkObject(std::move(object), options.sharedLibs, entries,
                               options.symbols);
      if (linked) {
        jit->cachedCode = std::move(linked->jit);
        jit->functions = std::move(linked->functions);
        jit->fromCache = true;
        jit->compileTime = secondsSince(compileStart);
        return jit;
      }
      warning = "ignoring the cached object " + cacheKey +
                ".o: " + llvm::toString(linked.takeError());
    }
    if (!warning.empty())
      emitWarning(module.getLoc()) << warning << "; compiling";
  }

  PassManager pm(module.getContext());
  LowerToLLVMOptions lowering;
  lowering.threads = options.threads;
  lowering.int8Isa = int8Isa;
  lowering.vectorBits = registers.bits;
  lowering.vectorRegisters = registers.count;
  buildLowerToLLVMPipeline(pm, lowering);
  if (failed(pm.run(module)))
    return failure();

  configureCodegenForGeneratedCode();
  ExecutionEngineOptions engineOptions;
  // No target machine for the optimizer, on purpose: with the host's
  // (AVX-512) cost model LLVM vectorizes the scalar loop nests of
  // linalg-to-loops into gathers and short-trip-count bodies, and the small
  // CNN's training step got 1.3x slower (500 vs 630 images/s on one Zen 4
  // core; forcing 8 lanes: 374). Code generation still targets the host.
  // Speed has to come from vectorizing in MLIR instead.
  // ExecutionEngineOptions holds a function_ref: keep the callable alive.
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(options.optLevel, /*sizeLevel=*/0,
                                /*targetMachine=*/nullptr);
  engineOptions.transformer = optimize;
  SmallVector<StringRef> libs(options.sharedLibs.begin(),
                              options.sharedLibs.end());
  engineOptions.sharedLibPaths = libs;
  engineOptions.enableObjectDump = !cacheKey.empty();
  auto engine = ExecutionEngine::create(module, engineOptions);
  if (!engine)
    return module.emitError()
           << "JIT compilation failed: " << llvm::toString(engine.takeError());
  jit->engine = std::move(*engine);
  if (!options.symbols.empty())
    jit->engine->registerSymbols([&](llvm::orc::MangleAndInterner mangle) {
      return symbolMap(mangle, options.symbols);
    });
  // The JIT generates code on first lookup: do it now, so that compile
  // time is counted here and not in the first call.
  for (const std::string &entry : entries) {
    auto function = jit->engine->lookupPacked(cInterfaceName(entry));
    if (!function)
      return module.emitError() << "JIT compilation failed: "
                                << llvm::toString(function.takeError());
    jit->functions[entry] = *function;
  }
  jit->compileTime = secondsSince(compileStart);
  // A failure to cache costs the next run a compile, not this one.
  if (!cacheKey.empty())
    if (llvm::Error error =
            storeCachedObject(options.cacheDir, cacheKey, [&](StringRef path) {
              jit->engine->dumpToObjectFile(path);
            }))
      emitWarning(module.getLoc()) << llvm::toString(std::move(error));
  return jit;
}

const FunctionSpec &JitModule::spec(StringRef entry) const {
  return specs.find(entry)->second;
}

LogicalResult JitModule::call(StringRef entry,
                              MutableArrayRef<NpyArray> arguments,
                              std::vector<NpyArray> &results) {
  auto it = specs.find(entry);
  if (it == specs.end())
    return emitError(UnknownLoc::get(context))
           << "'" << entry << "' was not compiled as an entry";
  const FunctionSpec &spec = it->second;
  if (arguments.size() != spec.arguments.size())
    return emitError(UnknownLoc::get(context))
           << "'" << entry << "' takes " << spec.arguments.size()
           << " arguments but " << arguments.size() << " inputs were given";
  for (auto [index, argument] : llvm::enumerate(arguments))
    if (failed(
            checkInput(context, entry, index, spec.arguments[index], argument)))
      return failure();
  // Reuse the caller's result buffers where they fit.
  results.resize(spec.results.size());
  for (auto [array, result] : llvm::zip(results, spec.results))
    if (array.elementType != result.elementType ||
        array.shape != result.shape ||
        array.data.size() != static_cast<size_t>(array.numElements()) *
                                 npyElementSize(array.elementType))
      array = NpyArray::zeros(result.elementType, result.shape);

  // Arguments, then out-parameters for the results, each a pointer to a
  // memref descriptor; invokePacked wants a pointer to each of those.
  std::vector<std::vector<int64_t>> descriptors;
  for (NpyArray &array : arguments)
    descriptors.push_back(makeDescriptor(array));
  for (NpyArray &array : results)
    descriptors.push_back(makeDescriptor(array));
  std::vector<void *> descriptorPointers;
  for (std::vector<int64_t> &words : descriptors)
    descriptorPointers.push_back(words.data());
  SmallVector<void *> packedArgs;
  for (void *&pointer : descriptorPointers)
    packedArgs.push_back(&pointer);
  // ExecutionEngine::invokePacked, less its per-call symbol lookup.
  if (engine)
    engine->initialize();
  functions.find(entry)->second(packedArgs.data());
  return success();
}

void mlir::qat::keepFreedMemoryInProcess() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

FailureOr<JitResult> mlir::qat::runJit(ModuleOp module, StringRef entry,
                                       ArrayRef<NpyArray> inputs,
                                       const JitOptions &options) {
  auto func = module.lookupSymbol<func::FuncOp>(entry);
  if (func && !func.isExternal()) {
    if (func.getNumArguments() != inputs.size())
      return func.emitError()
             << "'" << entry << "' takes " << func.getNumArguments()
             << " arguments but " << inputs.size() << " inputs were given";
    for (auto [index, argType] : llvm::enumerate(func.getArgumentTypes()))
      if (failed(checkInputType(func, index, argType, inputs[index])))
        return failure();
  }
  auto jit = JitModule::compile(module, {entry.str()}, options);
  if (failed(jit))
    return failure();
  JitResult result;
  result.compileSeconds = (*jit)->compileSeconds();
  result.loadedFromCache = (*jit)->loadedFromCache();
  for (unsigned call = 0; call < std::max(options.calls, 1u); ++call) {
    // Fresh copies: the previous call may have overwritten its arguments.
    std::vector<NpyArray> arguments(inputs.begin(), inputs.end());
    auto callStart = std::chrono::steady_clock::now();
    if (failed((*jit)->call(entry, arguments, result.outputs)))
      return failure();
    result.callSeconds.push_back(secondsSince(callStart));
  }
  return result;
}
