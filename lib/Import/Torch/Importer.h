//===- Importer.h - the TorchScript importer's internals -------*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Import/Torch: the Importer class, shared
// by TorchImporter.cpp (model structure and state), ImportOps.cpp (MLIR
// emission for each op) and ImportNodes.cpp (TorchScript nodes, constants
// and locations). Includes Torch headers; compiled with exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_IMPORT_TORCH_IMPORTER_H
#define QAT_LIB_IMPORT_TORCH_IMPORTER_H

#include "qat/Import/Torch/TorchImporter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Tosa/Utils/ConversionUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Verifier.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Utils/ModulePath.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>

using namespace mlir;
using namespace mlir::qat;
namespace jit = torch::jit;

namespace mlir::qat::torch_import {

namespace jit = torch::jit;

/// Thrown while emitting a node; caught per node and reported at its
/// location.
struct ImportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const llvm::Twine &message) {
  throw ImportError(message.str());
}

/// One entry of the model's state_dict.
struct StateEntry {
  std::string name;
  at::Tensor tensor;
  bool trainable = false; // a parameter (requires_grad), not a buffer
};

/// What a TorchScript value stands for during import.
struct Imported {
  Value tensor;                   // a tensor
  c10::IValue constant;           // a constant, or a module object
  std::vector<jit::Value *> list; // a list of non-constant values
  SmallVector<Value> tensorList;  // a list of tensors an op made (chunk)
  std::optional<size_t> state;    // a parameter or buffer (index in state)
  bool isTensor() const { return static_cast<bool>(tensor) || state; }
};

constexpr float kInf = std::numeric_limits<float>::infinity();

/// The MLIR element type of a state or constant tensor (null if none).
Type elementTypeOf(OpBuilder &builder, const at::Tensor &tensor);
RankedTensorType typeOf(OpBuilder &builder, const at::Tensor &tensor);
/// A one- or two-entry size list (kernel, stride, ...) as two entries.
std::vector<int64_t> pair(std::vector<int64_t> values, const char *what);
/// The dotted path of the submodule a node was inlined from.
std::string modulePathOf(jit::Node *node);

class Importer;

/// A tensor op's node being imported: its op name (without the namespace
/// and the in-place `_`) and how to bind its result (an in-place op also
/// rebinds its input).
struct NodeImport {
  jit::Node *node;
  StringRef op;
  llvm::function_ref<void(Value)> result;
};
/// The importer of one family of tensor ops (layers, activations, ...).
using NodeImporter = void (Importer::*)(const NodeImport &);

class Importer {
public:
  Importer(MLIRContext *context, jit::Module torchModule,
           const TorchImportOptions &options, StringRef path)
      : context(context), torchModule(std::move(torchModule)), options(options),
        path(path.str()), builder(context), loc(UnknownLoc::get(context)) {}

  OwningOpRef<ModuleOp> run();

private:
  // Model structure.
  void collectState(const jit::Module &module, const std::string &prefix);
  void importGetAttr(jit::Node *node);
  void sortStateArguments();
  Value stateValue(size_t index);
  size_t stateIndexOf(jit::Value *value);
  void updateState(jit::Value *value, Value newValue);
  Value scalarParameter(jit::Value *value, Type elementType);
  Value fakeQuantize(Value input, Value scale, Value zeroPoint, int64_t qmin,
                     int64_t qmax, std::optional<int64_t> axis);
  Value fusedObserveFakeQuant(jit::Node *node);
  Value rngSeed();
  func::FuncOp createForward(jit::Graph &graph);
  void createGlobals();
  void createPredict(func::FuncOp forward);
  Location locationOf(jit::Node *node);
  void importBlock(jit::Block *block);
  void importNode(jit::Node *node);
  bool importScalarOp(jit::Node *node, StringRef op);
  /// The family importer of a tensor op, or null (ImportNodes.cpp holds the
  /// table).
  static NodeImporter lookupTensorOp(StringRef op);
  void importLayer(const NodeImport &n);
  void importQuantization(const NodeImport &n);
  void importActivation(const NodeImport &n);
  void importElementwise(const NodeImport &n);
  void importPooling(const NodeImport &n);
  void importReduction(const NodeImport &n);
  void importShape(const NodeImport &n);
  void importSlicing(const NodeImport &n);
  void importLoss(const NodeImport &n);
  void importImageOp(const NodeImport &n);

  // Operand access.
  Value tensorOf(jit::Value *value);
  const c10::IValue &constantOf(jit::Value *value);
  int64_t intOf(jit::Value *value);
  double floatOf(jit::Value *value);
  bool boolOf(jit::Value *value);
  bool isNone(jit::Value *value);
  std::vector<int64_t> intsOf(jit::Value *value);
  std::vector<double> floatsOf(jit::Value *value);
  void bind(jit::Value *value, Value tensor) { values[value].tensor = tensor; }
  void bindConstant(jit::Value *value, c10::IValue constant) {
    values[value].constant = std::move(constant);
  }

  // Emission helpers.
  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, builder.getF32Type());
  }
  static ArrayRef<int64_t> shapeOf(Value value) {
    return cast<RankedTensorType>(value.getType()).getShape();
  }
  Value splat(float value, int64_t rank);
  Value reshape(Value value, ArrayRef<int64_t> shape);
  Value transpose(Value value, ArrayRef<int32_t> perms);
  Value slice(Value value, int64_t dim, int64_t start, int64_t size,
              int64_t step = 1);
  std::pair<Value, Value> broadcast(Value lhs, Value rhs);
  Value add(Value lhs, Value rhs);
  Value sub(Value lhs, Value rhs);
  Value mul(Value lhs, Value rhs);
  Value clamp(Value value, float lo, float hi);
  Value reduceSum(Value value, int64_t axis);
  Value reduceMax(Value value, int64_t axis);
  Value pad(Value value, ArrayRef<int64_t> low, ArrayRef<int64_t> high,
            float padValue);
  Value matmul2d(Value lhs, Value rhs);
  Value zeros(ArrayRef<int64_t> shape);
  Value channelVector(Value vector, int64_t rank);

  // Ops.
  Value convolution(Value input, Value weight, jit::Value *bias,
                    std::vector<int64_t> stride, std::vector<int64_t> padding,
                    std::vector<int64_t> dilation, int64_t groups);
  Value pool(Value input, std::vector<int64_t> kernel,
             std::vector<int64_t> stride, std::vector<int64_t> padding,
             std::vector<int64_t> dilation, bool max, bool ceilMode);
  /// The sum (or, with `average`, the mean) over `dims`.
  Value reduce(Value input, std::vector<int64_t> dims, bool keepDim,
               bool average);
  Value mean(Value input, std::vector<int64_t> dims, bool keepDim) {
    return reduce(input, std::move(dims), keepDim, /*average=*/true);
  }
  Value softmax(Value input, int64_t dim, bool log);
  Value batchNorm(jit::Node *node);
  // ImportImageOps.cpp
  Value transposedConvolution(Value input, Value weight, jit::Value *bias,
                              std::vector<int64_t> stride,
                              std::vector<int64_t> padding,
                              std::vector<int64_t> outputPadding,
                              std::vector<int64_t> dilation, int64_t groups);
  Value groupNormalize(Value input, int64_t groups, float eps);
  Value channelAffine(Value value, jit::Value *weight, jit::Value *bias);
  Value padByMode(Value x, std::vector<int64_t> pads, StringRef mode,
                  float value);
  Value bilinearUpsample(Value x, int64_t outH, int64_t outW, bool alignCorners,
                         std::optional<double> scaleH,
                         std::optional<double> scaleW);
  Value binaryArith(jit::Node *node, StringRef kind);

  MLIRContext *context;
  jit::Module torchModule;
  TorchImportOptions options;
  std::string path;
  OpBuilder builder;
  Location loc;
  OwningOpRef<ModuleOp> module;

  std::vector<StateEntry> state;
  llvm::DenseMap<const c10::TensorImpl *, size_t> stateIndex;
  // The state entries forward reads, in the order it first reads them; one
  // leading argument of forward each.
  std::vector<size_t> usedState;
  llvm::DenseMap<size_t, Value> stateArguments;
  // The latest value of each state entry the model writes (observers,
  // quantization parameters): forward returns them, predict stores them.
  std::map<size_t, Value> stateUpdates;
  func::FuncOp forward;
  jit::Node *currentNode = nullptr; // for error messages
  Value seedArgument;               // forward's rng_seed, if any dropout
  int64_t dropoutCount = 0;
  llvm::DenseMap<jit::Value *, Imported> values;
};

} // namespace mlir::qat::torch_import

#endif // QAT_LIB_IMPORT_TORCH_IMPORTER_H
