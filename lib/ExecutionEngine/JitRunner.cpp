//===- JitRunner.cpp - run a tensor function on NumPy arrays ----*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/ExecutionEngine/JitRunner.h"
#include "qat/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/TargetSelect.h"

#include <algorithm>
#include <chrono>

using namespace mlir;
using namespace mlir::qat;

namespace {

/// The .npy element type that stores `type`, if any. i1 is stored one byte
/// per element, as LLVM stores it in memory.
std::optional<NpyElementType> npyTypeOf(Type type) {
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

LogicalResult checkInput(func::FuncOp func, unsigned index, Type type,
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

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

FailureOr<JitResult> mlir::qat::runJit(ModuleOp module, StringRef entry,
                                       ArrayRef<NpyArray> inputs,
                                       const JitOptions &options) {
  auto func = module.lookupSymbol<func::FuncOp>(entry);
  if (!func || func.isExternal())
    return module.emitError()
           << "no function named '" << entry << "' with a body in the module";
  FunctionType type = func.getFunctionType();
  if (type.getNumInputs() != inputs.size())
    return func.emitError()
           << "'" << entry << "' takes " << type.getNumInputs()
           << " arguments but " << inputs.size() << " inputs were given";
  for (auto [index, argType] : llvm::enumerate(type.getInputs()))
    if (failed(checkInput(func, index, argType, inputs[index])))
      return failure();

  JitResult result;
  std::vector<NpyArray> &outputs = result.outputs;
  for (auto [index, resultType] : llvm::enumerate(type.getResults())) {
    auto tensorType = dyn_cast<RankedTensorType>(resultType);
    std::optional<NpyElementType> npyType =
        tensorType ? npyTypeOf(tensorType.getElementType()) : std::nullopt;
    if (!tensorType || !tensorType.hasStaticShape() || !npyType)
      return func.emitError()
             << "result " << index << " must be a statically shaped tensor "
             << "of a .npy element type, got " << resultType;
    outputs.push_back(NpyArray::zeros(
        *npyType, std::vector<int64_t>(tensorType.getShape().begin(),
                                       tensorType.getShape().end())));
  }

  func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                UnitAttr::get(module.getContext()));
  auto compileStart = std::chrono::steady_clock::now();
  PassManager pm(module.getContext());
  buildLowerToLLVMPipeline(pm);
  if (failed(pm.run(module)))
    return failure();

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  ExecutionEngineOptions engineOptions;
  // ExecutionEngineOptions holds a function_ref: keep the callable alive.
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(options.optLevel, /*sizeLevel=*/0,
                                /*targetMachine=*/nullptr);
  engineOptions.transformer = optimize;
  SmallVector<StringRef> libs(options.sharedLibs.begin(),
                              options.sharedLibs.end());
  engineOptions.sharedLibPaths = libs;
  auto engine = ExecutionEngine::create(module, engineOptions);
  if (!engine)
    return module.emitError()
           << "JIT compilation failed: " << llvm::toString(engine.takeError());

  result.compileSeconds = secondsSince(compileStart);

  // Arguments, then out-parameters for the results, each a pointer to a
  // memref descriptor; invokePacked wants a pointer to each of those.
  std::vector<NpyArray> arguments(inputs.begin(), inputs.end());
  std::vector<std::vector<int64_t>> descriptors;
  for (NpyArray &array : arguments)
    descriptors.push_back(makeDescriptor(array));
  for (NpyArray &array : outputs)
    descriptors.push_back(makeDescriptor(array));
  std::vector<void *> descriptorPointers;
  for (std::vector<int64_t> &words : descriptors)
    descriptorPointers.push_back(words.data());
  SmallVector<void *> packedArgs;
  for (void *&pointer : descriptorPointers)
    packedArgs.push_back(&pointer);

  std::string wrapper = ("_mlir_ciface_" + entry).str();
  for (unsigned call = 0; call < std::max(options.calls, 1u); ++call) {
    // Restore the inputs the previous call may have overwritten (untimed).
    if (call > 0)
      for (auto [argument, input] : llvm::zip(arguments, inputs))
        std::copy(input.data.begin(), input.data.end(), argument.data.begin());
    auto callStart = std::chrono::steady_clock::now();
    if (llvm::Error error = (*engine)->invokePacked(wrapper, packedArgs))
      return module.emitError()
             << "call failed: " << llvm::toString(std::move(error));
    result.callSeconds.push_back(secondsSince(callStart));
  }
  return result;
}
