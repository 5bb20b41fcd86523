//===- TorchImporter.cpp - TorchScript to MLIR ------------------*- C++ -*-===//
//
// Part of qat-mlir. Reads a TorchScript archive with LibTorch, inlines its
// `forward`, and emits the graph IR: tosa ops for elementwise, reduction,
// matmul and shape ops, and linalg named ops in PyTorch's NCHW layout for
// convolution and pooling (tosa has those only in NHWC). This file is the
// only one that includes Torch headers and is compiled with exceptions:
// LibTorch reports errors by throwing, and so does the node emission below,
// which turns every throw into one located diagnostic.
//
//===----------------------------------------------------------------------===//

#include "qat/Import/Torch/TorchImporter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Tosa/Utils/ConversionUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Verifier.h"
#include "qat/Dialect/Qat/IR/QatOps.h"

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

namespace {

/// Thrown while emitting a node; caught per node and reported at its
/// location.
struct ImportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const llvm::Twine &message) {
  throw ImportError(message.str());
}

/// One entry of the model's state_dict.
struct StateEntry {
  std::string name;
  at::Tensor tensor;
};

/// What a TorchScript value stands for during import.
struct Imported {
  Value tensor;                   // a tensor
  c10::IValue constant;           // a constant, or a module object
  std::vector<jit::Value *> list; // a list of non-constant values
  std::optional<size_t> state;    // a parameter or buffer (index in state)
  bool isTensor() const { return static_cast<bool>(tensor) || state; }
};

constexpr float kInf = std::numeric_limits<float>::infinity();

Type elementTypeOf(OpBuilder &builder, const at::Tensor &tensor);
RankedTensorType typeOf(OpBuilder &builder, const at::Tensor &tensor);

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

  // Operand access.
  Value tensorOf(jit::Value *value);
  const c10::IValue &constantOf(jit::Value *value);
  int64_t intOf(jit::Value *value);
  double floatOf(jit::Value *value);
  bool boolOf(jit::Value *value);
  bool isNone(jit::Value *value);
  std::vector<int64_t> intsOf(jit::Value *value);
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
  Value mean(Value input, std::vector<int64_t> dims, bool keepDim);
  Value softmax(Value input, int64_t dim, bool log);
  Value batchNorm(jit::Node *node);
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

//===----------------------------------------------------------------------===//
// Operand access
//===----------------------------------------------------------------------===//

Value Importer::tensorOf(jit::Value *value) {
  auto it = values.find(value);
  if (it != values.end() && it->second.tensor)
    return it->second.tensor;
  if (it != values.end() && it->second.state)
    return stateValue(*it->second.state);
  if (it != values.end() && it->second.constant.isTensor()) {
    // A constant tensor recorded by tracing (e.g. a Python number): emit it
    // with its exact values.
    at::Tensor constant = it->second.constant.toTensor().contiguous();
    if (constant.is_floating_point() && constant.scalar_type() != at::kFloat)
      constant = constant.to(at::kFloat);
    RankedTensorType type = typeOf(builder, constant);
    if (!type.getElementType())
      fail("constant tensor '%" + value->debugName() +
           "' has an unsupported dtype");
    ArrayRef<char> bytes(static_cast<const char *>(constant.data_ptr()),
                         constant.nbytes());
    Value result = tosa::ConstOp::create(
        builder, loc, type, DenseElementsAttr::getFromRawBuffer(type, bytes));
    bind(value, result);
    return result;
  }
  fail("operand '%" + value->debugName() + "' is not a tensor");
}

const c10::IValue &Importer::constantOf(jit::Value *value) {
  auto it = values.find(value);
  if (it == values.end() || it->second.isTensor())
    fail("operand '%" + value->debugName() + "' must be a constant");
  return it->second.constant;
}

int64_t Importer::intOf(jit::Value *value) {
  const c10::IValue &constant = constantOf(value);
  // Tracing records Python numbers used with tensors as 0-d tensors.
  if (constant.isTensor() && constant.toTensor().numel() == 1 &&
      !constant.toTensor().is_floating_point())
    return constant.toTensor().item<int64_t>();
  if (!constant.isInt())
    fail("operand '%" + value->debugName() + "' must be a constant integer");
  return constant.toInt();
}

double Importer::floatOf(jit::Value *value) {
  const c10::IValue &constant = constantOf(value);
  if (constant.isInt())
    return static_cast<double>(constant.toInt());
  if (constant.isTensor() && constant.toTensor().numel() == 1)
    return constant.toTensor().item<double>();
  if (!constant.isDouble())
    fail("operand '%" + value->debugName() + "' must be a constant number");
  return constant.toDouble();
}

bool Importer::boolOf(jit::Value *value) {
  const c10::IValue &constant = constantOf(value);
  if (!constant.isBool())
    fail("operand '%" + value->debugName() + "' must be a constant bool");
  return constant.toBool();
}

bool Importer::isNone(jit::Value *value) {
  auto it = values.find(value);
  return it != values.end() && !it->second.isTensor() &&
         it->second.list.empty() && it->second.constant.isNone();
}

std::vector<int64_t> Importer::intsOf(jit::Value *value) {
  auto it = values.find(value);
  if (it != values.end() && !it->second.list.empty()) {
    std::vector<int64_t> result;
    for (jit::Value *item : it->second.list)
      result.push_back(intOf(item));
    return result;
  }
  const c10::IValue &constant = constantOf(value);
  if (constant.isInt())
    return {constant.toInt()};
  if (!constant.isIntList())
    fail("operand '%" + value->debugName() +
         "' must be a constant list of integers");
  return constant.toIntVector();
}

//===----------------------------------------------------------------------===//
// Emission helpers
//===----------------------------------------------------------------------===//

Value Importer::splat(float value, int64_t rank) {
  RankedTensorType type = f32(SmallVector<int64_t>(rank, 1));
  return tosa::ConstOp::create(builder, loc, type,
                               DenseElementsAttr::get(type, value));
}

Value Importer::zeros(ArrayRef<int64_t> shape) {
  Value empty =
      tensor::EmptyOp::create(builder, loc, shape, builder.getF32Type());
  Value zero =
      arith::ConstantOp::create(builder, loc, builder.getF32FloatAttr(0.0f));
  return linalg::FillOp::create(builder, loc, zero, empty).getResult(0);
}

Value Importer::reshape(Value value, ArrayRef<int64_t> shape) {
  if (shapeOf(value) == shape)
    return value;
  ImplicitLocOpBuilder implicit(loc, builder);
  Value shapeValue = tosa::getTosaConstShape(implicit, shape);
  return tosa::ReshapeOp::create(builder, loc, f32(shape), value, shapeValue);
}

Value Importer::transpose(Value value, ArrayRef<int32_t> perms) {
  ArrayRef<int64_t> shape = shapeOf(value);
  SmallVector<int64_t> result;
  for (int32_t dim : perms)
    result.push_back(shape[dim]);
  return tosa::TransposeOp::create(builder, loc, f32(result), value, perms);
}

/// Reshapes both operands to a common rank (tosa broadcasts only dimensions
/// of size 1 between operands of equal rank).
std::pair<Value, Value> Importer::broadcast(Value lhs, Value rhs) {
  int64_t rank = std::max(shapeOf(lhs).size(), shapeOf(rhs).size());
  auto expand = [&](Value value) {
    SmallVector<int64_t> shape(rank - shapeOf(value).size(), 1);
    llvm::append_range(shape, shapeOf(value));
    return reshape(value, shape);
  };
  lhs = expand(lhs);
  rhs = expand(rhs);
  for (auto [l, r] : llvm::zip(shapeOf(lhs), shapeOf(rhs)))
    if (l != r && l != 1 && r != 1)
      fail("shapes do not broadcast");
  return {lhs, rhs};
}

static SmallVector<int64_t> broadcastShape(ArrayRef<int64_t> lhs,
                                           ArrayRef<int64_t> rhs) {
  SmallVector<int64_t> shape;
  for (auto [l, r] : llvm::zip(lhs, rhs))
    shape.push_back(l == 1 ? r : l);
  return shape;
}

Value Importer::add(Value lhs, Value rhs) {
  auto [l, r] = broadcast(lhs, rhs);
  return tosa::AddOp::create(builder, loc,
                             f32(broadcastShape(shapeOf(l), shapeOf(r))), l, r);
}

Value Importer::sub(Value lhs, Value rhs) {
  auto [l, r] = broadcast(lhs, rhs);
  return tosa::SubOp::create(builder, loc,
                             f32(broadcastShape(shapeOf(l), shapeOf(r))), l, r);
}

Value Importer::mul(Value lhs, Value rhs) {
  auto [l, r] = broadcast(lhs, rhs);
  auto shiftType = RankedTensorType::get({1}, builder.getI8Type());
  Value shift = tosa::ConstOp::create(
      builder, loc, shiftType,
      DenseElementsAttr::get(shiftType, static_cast<int8_t>(0)));
  return tosa::MulOp::create(
      builder, loc, f32(broadcastShape(shapeOf(l), shapeOf(r))), l, r, shift);
}

Value Importer::clamp(Value value, float lo, float hi) {
  return tosa::ClampOp::create(builder, loc, value.getType(), value,
                               builder.getF32FloatAttr(lo),
                               builder.getF32FloatAttr(hi));
}

Value Importer::reduceSum(Value value, int64_t axis) {
  SmallVector<int64_t> shape(shapeOf(value));
  shape[axis] = 1;
  return tosa::ReduceSumOp::create(builder, loc, f32(shape), value,
                                   builder.getI32IntegerAttr(axis));
}

Value Importer::reduceMax(Value value, int64_t axis) {
  SmallVector<int64_t> shape(shapeOf(value));
  shape[axis] = 1;
  return tosa::ReduceMaxOp::create(builder, loc, f32(shape), value,
                                   builder.getI32IntegerAttr(axis));
}

Value Importer::pad(Value value, ArrayRef<int64_t> low, ArrayRef<int64_t> high,
                    float padValue) {
  if (llvm::all_of(low, [](int64_t v) { return v == 0; }) &&
      llvm::all_of(high, [](int64_t v) { return v == 0; }))
    return value;
  SmallVector<int64_t> shape(shapeOf(value));
  SmallVector<OpFoldResult> lowAttrs, highAttrs;
  for (size_t dim = 0; dim < shape.size(); ++dim) {
    shape[dim] += low[dim] + high[dim];
    lowAttrs.push_back(builder.getIndexAttr(low[dim]));
    highAttrs.push_back(builder.getIndexAttr(high[dim]));
  }
  Value padScalar = arith::ConstantOp::create(
      builder, loc, builder.getF32FloatAttr(padValue));
  return tensor::PadOp::create(builder, loc, f32(shape), value, lowAttrs,
                               highAttrs, padScalar);
}

/// [M, K] x [K, N] through tosa.matmul's batched form.
Value Importer::matmul2d(Value lhs, Value rhs) {
  int64_t m = shapeOf(lhs)[0], k = shapeOf(lhs)[1], n = shapeOf(rhs)[1];
  if (shapeOf(rhs)[0] != k)
    fail("matrix shapes do not match for a product");
  Value product =
      tosa::MatMulOp::create(builder, loc, f32({1, m, n}),
                             reshape(lhs, {1, m, k}), reshape(rhs, {1, k, n}));
  return reshape(product, {m, n});
}

/// A per-channel vector [C] shaped to broadcast along dimension 1 of a
/// rank-`rank` NCHW tensor.
Value Importer::channelVector(Value vector, int64_t rank) {
  SmallVector<int64_t> shape(rank, 1);
  shape[1] = shapeOf(vector)[0];
  return reshape(vector, shape);
}

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

static int64_t convOutputSize(int64_t input, int64_t kernel, int64_t stride,
                              int64_t padLow, int64_t padHigh, int64_t dilation,
                              bool ceilMode = false) {
  int64_t span = input + padLow + padHigh - dilation * (kernel - 1) - 1;
  if (span < 0)
    fail("the window is larger than the padded input");
  int64_t size = span / stride + 1;
  if (ceilMode && span % stride != 0 && (size * stride) < input + padLow)
    ++size;
  return size;
}

static std::vector<int64_t> pair(std::vector<int64_t> values,
                                 const char *what) {
  if (values.size() == 1)
    values.push_back(values[0]);
  if (values.size() != 2)
    fail(llvm::Twine(what) + " must have one or two entries");
  return values;
}

Value Importer::convolution(Value input, Value weight, jit::Value *bias,
                            std::vector<int64_t> stride,
                            std::vector<int64_t> padding,
                            std::vector<int64_t> dilation, int64_t groups) {
  if (shapeOf(input).size() != 4 || shapeOf(weight).size() != 4)
    fail("only 2-d convolutions (4-d input and weight) are supported");
  stride = pair(stride, "stride");
  padding = pair(padding, "padding");
  dilation = pair(dilation, "dilation");
  int64_t n = shapeOf(input)[0], c = shapeOf(input)[1];
  int64_t f = shapeOf(weight)[0], kh = shapeOf(weight)[2],
          kw = shapeOf(weight)[3];
  if (groups < 1 || c % groups != 0 || f % groups != 0 ||
      shapeOf(weight)[1] * groups != c)
    fail("weight shape does not match the input channels and groups");
  int64_t oh = convOutputSize(shapeOf(input)[2], kh, stride[0], padding[0],
                              padding[0], dilation[0]);
  int64_t ow = convOutputSize(shapeOf(input)[3], kw, stride[1], padding[1],
                              padding[1], dilation[1]);
  Value padded = pad(input, {0, 0, padding[0], padding[1]},
                     {0, 0, padding[0], padding[1]}, 0.0f);
  Attribute strides = builder.getI64TensorAttr(stride);
  Attribute dilations = builder.getI64TensorAttr(dilation);
  Value result;
  if (groups == 1) {
    result = linalg::Conv2DNchwFchwOp::create(
                 builder, loc, TypeRange{f32({n, f, oh, ow})},
                 ValueRange{padded, weight}, zeros({n, f, oh, ow}), strides,
                 dilations)
                 .getResult(0);
  } else {
    // Grouped (and depthwise) convolution: split channels into groups.
    SmallVector<int64_t> paddedShape(shapeOf(padded));
    auto groupedInput = tensor::ExpandShapeOp::create(
        builder, loc,
        f32({n, groups, c / groups, paddedShape[2], paddedShape[3]}), padded,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    auto groupedWeight = tensor::ExpandShapeOp::create(
        builder, loc, f32({groups, f / groups, c / groups, kh, kw}), weight,
        SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}, {4}});
    Value grouped =
        linalg::Conv2DNgchwGfchwOp::create(
            builder, loc, TypeRange{f32({n, groups, f / groups, oh, ow})},
            ValueRange{groupedInput, groupedWeight},
            zeros({n, groups, f / groups, oh, ow}), strides, dilations)
            .getResult(0);
    result = tensor::CollapseShapeOp::create(
        builder, loc, f32({n, f, oh, ow}), grouped,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
  }
  if (!isNone(bias))
    result = add(result, channelVector(tensorOf(bias), 4));
  return result;
}

Value Importer::pool(Value input, std::vector<int64_t> kernel,
                     std::vector<int64_t> stride, std::vector<int64_t> padding,
                     std::vector<int64_t> dilation, bool max, bool ceilMode) {
  if (shapeOf(input).size() != 4)
    fail("only 2-d pooling of 4-d NCHW tensors is supported");
  kernel = pair(kernel, "kernel_size");
  stride = stride.empty() ? kernel : pair(stride, "stride");
  padding = pair(padding, "padding");
  dilation = pair(dilation, "dilation");
  int64_t n = shapeOf(input)[0], c = shapeOf(input)[1];
  int64_t h = shapeOf(input)[2], w = shapeOf(input)[3];
  int64_t oh = convOutputSize(h, kernel[0], stride[0], padding[0], padding[0],
                              dilation[0], ceilMode);
  int64_t ow = convOutputSize(w, kernel[1], stride[1], padding[1], padding[1],
                              dilation[1], ceilMode);
  // ceil_mode may need windows that start inside the input and run past its
  // padded end: pad the high side far enough for them.
  int64_t extraH = std::max<int64_t>(0, (oh - 1) * stride[0] +
                                            dilation[0] * (kernel[0] - 1) + 1 -
                                            (h + 2 * padding[0]));
  int64_t extraW = std::max<int64_t>(0, (ow - 1) * stride[1] +
                                            dilation[1] * (kernel[1] - 1) + 1 -
                                            (w + 2 * padding[1]));
  if (!max && (extraH || extraW))
    fail("avg_pool2d with ceil_mode that adds windows is not supported");
  Value padded =
      pad(input, {0, 0, padding[0], padding[1]},
          {0, 0, padding[0] + extraH, padding[1] + extraW}, max ? -kInf : 0.0f);
  Value window =
      tensor::EmptyOp::create(builder, loc, kernel, builder.getF32Type());
  Attribute strides = builder.getI64TensorAttr(stride);
  Attribute dilations = builder.getI64TensorAttr(dilation);
  if (max) {
    Value init = tensor::EmptyOp::create(
        builder, loc, ArrayRef<int64_t>{n, c, oh, ow}, builder.getF32Type());
    Value lowest =
        arith::ConstantOp::create(builder, loc, builder.getF32FloatAttr(-kInf));
    init = linalg::FillOp::create(builder, loc, lowest, init).getResult(0);
    return linalg::PoolingNchwMaxOp::create(
               builder, loc, TypeRange{f32({n, c, oh, ow})},
               ValueRange{padded, window}, init, strides, dilations)
        .getResult(0);
  }
  return linalg::PoolingNchwSumOp::create(
             builder, loc, TypeRange{f32({n, c, oh, ow})},
             ValueRange{padded, window}, zeros({n, c, oh, ow}), strides,
             dilations)
      .getResult(0);
}

Value Importer::mean(Value input, std::vector<int64_t> dims, bool keepDim) {
  int64_t rank = shapeOf(input).size();
  int64_t count = 1;
  SmallVector<bool> reduced(rank, false);
  for (int64_t dim : dims) {
    if (dim < 0)
      dim += rank;
    if (dim < 0 || dim >= rank || reduced[dim])
      fail("invalid reduction dimension");
    reduced[dim] = true;
    count *= shapeOf(input)[dim];
    input = reduceSum(input, dim);
  }
  Value result = mul(input, splat(1.0f / static_cast<float>(count), rank));
  if (keepDim)
    return result;
  SmallVector<int64_t> shape;
  for (int64_t dim = 0; dim < rank; ++dim)
    if (!reduced[dim])
      shape.push_back(shapeOf(result)[dim]);
  return reshape(result, shape);
}

Value Importer::softmax(Value input, int64_t dim, bool log) {
  int64_t rank = shapeOf(input).size();
  if (dim < 0)
    dim += rank;
  if (dim < 0 || dim >= rank)
    fail("softmax dimension out of range");
  Value shifted = sub(input, reduceMax(input, dim));
  Value exp = tosa::ExpOp::create(builder, loc, shifted.getType(), shifted);
  Value sum = reduceSum(exp, dim);
  if (log) {
    Value logSum = tosa::LogOp::create(builder, loc, sum.getType(), sum);
    return sub(shifted, logSum);
  }
  Value inverse = tosa::ReciprocalOp::create(builder, loc, sum.getType(), sum);
  return mul(exp, inverse);
}

Value Importer::batchNorm(jit::Node *node) {
  // batch_norm(input, weight, bias, running_mean, running_var, training,
  //            momentum, eps, cudnn_enabled)
  Value input = tensorOf(node->input(0));
  int64_t rank = shapeOf(input).size();
  if (rank < 2)
    fail("batch_norm needs an input of rank 2 or more");
  float eps = static_cast<float>(floatOf(node->input(7)));
  Value mean, var;
  if (boolOf(node->input(5))) {
    // Training: normalize with the batch's statistics (biased variance)
    // and move the running statistics towards them (unbiased variance),
    // as PyTorch's kernel does; both are state updates of forward.
    std::vector<int64_t> dims = {0};
    int64_t count = shapeOf(input)[0];
    for (int64_t dim = 2; dim < rank; ++dim) {
      dims.push_back(dim);
      count *= shapeOf(input)[dim];
    }
    if (count < 2)
      fail("batch_norm in training mode needs more than one value per "
           "channel");
    mean = this->mean(input, dims, /*keepDim=*/true);
    Value centered = sub(input, mean);
    var = this->mean(mul(centered, centered), dims, /*keepDim=*/true);
    if (!isNone(node->input(3))) {
      float momentum = static_cast<float>(floatOf(node->input(6)));
      int64_t channels = shapeOf(input)[1];
      auto toVector = [&](Value stat) { return reshape(stat, {channels}); };
      Value unbiased = mul(
          var, splat(static_cast<float>(count) / static_cast<float>(count - 1),
                     rank));
      auto blend = [&](jit::Value *running, Value batch) {
        Value old = tensorOf(running);
        Value kept = mul(old, splat(1.0f - momentum, 1));
        return add(kept, mul(toVector(batch), splat(momentum, 1)));
      };
      Value newMean = blend(node->input(3), mean);
      Value newVar = blend(node->input(4), unbiased);
      updateState(node->input(3), newMean);
      updateState(node->input(4), newVar);
    }
  } else {
    mean = channelVector(tensorOf(node->input(3)), rank);
    var = channelVector(tensorOf(node->input(4)), rank);
  }
  Value stdInv = tosa::RsqrtOp::create(builder, loc, var.getType(),
                                       add(var, splat(eps, rank)));
  Value result = mul(sub(input, mean), stdInv);
  if (!isNone(node->input(1)))
    result = mul(result, channelVector(tensorOf(node->input(1)), rank));
  if (!isNone(node->input(2)))
    result = add(result, channelVector(tensorOf(node->input(2)), rank));
  return result;
}

/// add/sub/mul/div with a tensor or scalar second operand (and alpha).
Value Importer::binaryArith(jit::Node *node, StringRef kind) {
  Value lhs = tensorOf(node->input(0));
  int64_t rank = shapeOf(lhs).size();
  auto it = values.find(node->input(1));
  Value rhs = it != values.end() && it->second.isTensor()
                  ? tensorOf(node->input(1))
                  : splat(static_cast<float>(floatOf(node->input(1))), rank);
  if ((kind == "add" || kind == "sub") && node->inputs().size() > 2) {
    double alpha = floatOf(node->input(2));
    if (alpha != 1.0)
      rhs = mul(rhs, splat(static_cast<float>(alpha), rank));
  }
  if (kind == "add")
    return add(lhs, rhs);
  if (kind == "sub")
    return sub(lhs, rhs);
  if (kind == "mul")
    return mul(lhs, rhs);
  Value inverse = tosa::ReciprocalOp::create(builder, loc, rhs.getType(), rhs);
  return mul(lhs, inverse);
}

/// The storage type that holds [qmin, qmax]: unsigned when qmin >= 0, with
/// the fewest bits (at most 8).
static IntegerType storageTypeFor(OpBuilder &builder, int64_t qmin,
                                  int64_t qmax) {
  bool isUnsigned = qmin >= 0;
  for (unsigned width = 1; width <= 8; ++width) {
    int64_t lowest = isUnsigned ? 0 : -(int64_t(1) << (width - 1));
    int64_t highest = isUnsigned ? (int64_t(1) << width) - 1
                                 : (int64_t(1) << (width - 1)) - 1;
    if (qmin >= lowest && qmax <= highest)
      return builder.getIntegerType(width, /*isSigned=*/!isUnsigned);
  }
  fail("quantization range [" + llvm::Twine(qmin) + ", " + llvm::Twine(qmax) +
       "] needs more than 8 bits");
}

/// A per-tensor scale or zero-point as a 0-d tensor of `elementType`: from a
/// Python number, or from a one-element tensor (a FakeQuantize buffer).
Value Importer::scalarParameter(jit::Value *value, Type elementType) {
  auto it = values.find(value);
  if (it == values.end() || !it->second.isTensor()) {
    auto type = RankedTensorType::get({}, elementType);
    double number = floatOf(value);
    Attribute attr = isa<FloatType>(elementType)
                         ? Attribute(builder.getFloatAttr(elementType, number))
                         : Attribute(builder.getIntegerAttr(
                               elementType, static_cast<int64_t>(number)));
    return arith::ConstantOp::create(builder, loc,
                                     DenseElementsAttr::get(type, attr));
  }
  Value tensor = tensorOf(value);
  auto type = cast<RankedTensorType>(tensor.getType());
  if (type.getNumElements() != 1)
    fail("a per-tensor scale or zero-point must have one element");
  if (type.getElementType() != elementType)
    fail("a scale must be float32 and a zero-point int32");
  if (type.getRank() == 0)
    return tensor;
  return tensor::CollapseShapeOp::create(
      builder, loc, RankedTensorType::get({}, elementType), tensor,
      SmallVector<ReassociationIndices>{});
}

Value Importer::fakeQuantize(Value input, Value scale, Value zeroPoint,
                             int64_t qmin, int64_t qmax,
                             std::optional<int64_t> axis) {
  auto op = FakeQuantOp::create(
      builder, loc, input.getType(), input, scale, zeroPoint,
      TypeAttr::get(storageTypeFor(builder, qmin, qmax)),
      builder.getI64IntegerAttr(qmin), builder.getI64IntegerAttr(qmax),
      axis ? builder.getI64IntegerAttr(*axis) : IntegerAttr());
  if (failed(verify(op)))
    fail("invalid fake quantization parameters");
  return op.getResult();
}

/// fused_moving_avg_obs_fake_quant(x, observer_on, fake_quant_on,
/// running_min, running_max, scale, zero_point, averaging_const, quant_min,
/// quant_max, ch_axis, per_row_fake_quant, symmetric_quant): PyTorch's
/// FakeQuantize module in one kernel. It observes x into the running range,
/// derives the parameters with the kernel's own rule, fake-quantizes, and
/// writes the range, scale and zero-point back into the module's buffers.
/// The two switches are buffers too; their values at import decide what is
/// emitted.
Value Importer::fusedObserveFakeQuant(jit::Node *node) {
  Value input = tensorOf(node->input(0));
  auto flag = [&](jit::Value *value) {
    return state[stateIndexOf(value)].tensor.item<int64_t>() != 0;
  };
  bool observe = flag(node->input(1)), quantize = flag(node->input(2));
  float averaging = static_cast<float>(floatOf(node->input(7)));
  int64_t qmin = intOf(node->input(8)), qmax = intOf(node->input(9));
  int64_t channelAxis = intOf(node->input(10));
  bool perChannel = boolOf(node->input(11));
  bool symmetric = boolOf(node->input(12));
  std::optional<int64_t> axis;
  if (perChannel) {
    if (channelAxis != 0)
      fail("per-channel fused fake quantization is supported on axis 0 only "
           "(as in PyTorch's kernel)");
    axis = 0;
  }
  Value min = tensorOf(node->input(3)), max = tensorOf(node->input(4));
  auto stateType = cast<RankedTensorType>(min.getType());
  if (stateType.getNumElements() == 0)
    fail("the observer has never run, so its per-channel state is empty: run "
         "the prepared model on data before saving it");
  // Per-tensor ranges are 0-d already; per-channel ones have one entry per
  // index of the axis.
  if (observe) {
    auto observed = ObserveMovingAverageMinMaxOp::create(
        builder, loc, TypeRange{min.getType(), max.getType()}, input, min, max,
        builder.getF32FloatAttr(averaging),
        axis ? builder.getI64IntegerAttr(*axis) : IntegerAttr());
    if (failed(verify(observed)))
      fail("observer state does not match the input");
    min = observed.getNewMin();
    max = observed.getNewMax();
    updateState(node->input(3), min);
    updateState(node->input(4), max);
  }
  if (!quantize)
    return input;
  auto zeroPointType =
      RankedTensorType::get(stateType.getShape(), builder.getI32Type());
  auto qparams = ChooseQParamsOp::create(
      builder, loc, TypeRange{stateType, zeroPointType},
      symmetric ? QuantScheme::symmetric : QuantScheme::affine, min, max,
      storageTypeFor(builder, qmin, qmax), qmin, qmax,
      llvm::APFloat(1.1920928955078125e-07f), QParamsRule::fake_quant_kernel);
  updateState(node->input(5), qparams.getScale());
  updateState(node->input(6), qparams.getZeroPoint());
  return fakeQuantize(input, qparams.getScale(), qparams.getZeroPoint(), qmin,
                      qmax, axis);
}

//===----------------------------------------------------------------------===//
// Nodes
//===----------------------------------------------------------------------===//

void Importer::importBlock(jit::Block *block) {
  for (jit::Node *node : block->nodes())
    importNode(node);
}

/// Python-level arithmetic and logic on constants (sizes, flags, None
/// checks), evaluated at import time. Returns false for anything else.
bool Importer::importScalarOp(jit::Node *node, StringRef name) {
  auto constantOrNull = [&](jit::Value *value) -> const c10::IValue * {
    auto it = values.find(value);
    if (it == values.end() || it->second.isTensor() || !it->second.list.empty())
      return nullptr;
    return &it->second.constant;
  };
  auto number = [](const c10::IValue &v) -> std::optional<double> {
    if (v.isInt())
      return static_cast<double>(v.toInt());
    if (v.isDouble())
      return v.toDouble();
    if (v.isBool())
      return v.toBool() ? 1.0 : 0.0;
    return std::nullopt;
  };
  jit::Value *out = node->outputs().empty() ? nullptr : node->output(0);
  if (name == "aten::dim") {
    bindConstant(out, c10::IValue(static_cast<int64_t>(
                          shapeOf(tensorOf(node->input(0))).size())));
    return true;
  }
  if (name == "aten::len") {
    auto it = values.find(node->input(0));
    if (it != values.end() && !it->second.list.empty()) {
      bindConstant(out,
                   c10::IValue(static_cast<int64_t>(it->second.list.size())));
      return true;
    }
    const c10::IValue &list = constantOf(node->input(0));
    if (!list.isList())
      fail("len of something other than a list");
    bindConstant(out,
                 c10::IValue(static_cast<int64_t>(list.toListRef().size())));
    return true;
  }
  if (name == "aten::__is__" || name == "aten::__isnot__") {
    const c10::IValue *lhs = constantOrNull(node->input(0));
    const c10::IValue *rhs = constantOrNull(node->input(1));
    bool lhsNone = lhs && lhs->isNone(), rhsNone = rhs && rhs->isNone();
    if (!lhsNone && !rhsNone)
      fail("'is' is supported only against None");
    bool same = lhsNone && rhsNone;
    bindConstant(out, c10::IValue(name == "aten::__is__" ? same : !same));
    return true;
  }
  if (name == "aten::__not__") {
    bindConstant(out, c10::IValue(!boolOf(node->input(0))));
    return true;
  }
  static const llvm::StringSet<> binary = {
      "aten::eq",  "aten::ne",       "aten::lt",       "aten::le",  "aten::gt",
      "aten::ge",  "aten::__and__",  "aten::__or__",   "aten::add", "aten::sub",
      "aten::mul", "aten::floordiv", "aten::remainder"};
  if (!binary.contains(name) || node->inputs().size() != 2)
    return false;
  const c10::IValue *lhs = constantOrNull(node->input(0));
  const c10::IValue *rhs = constantOrNull(node->input(1));
  if (!lhs || !rhs || lhs->isTensor() || rhs->isTensor())
    return false;
  if (name == "aten::eq" || name == "aten::ne") {
    bool equal;
    if (lhs->isString() && rhs->isString())
      equal = lhs->toStringRef() == rhs->toStringRef();
    else if (number(*lhs) && number(*rhs))
      equal = *number(*lhs) == *number(*rhs);
    else
      equal = lhs->isNone() && rhs->isNone();
    bindConstant(out, c10::IValue(name == "aten::eq" ? equal : !equal));
    return true;
  }
  std::optional<double> a = number(*lhs), b = number(*rhs);
  if (!a || !b)
    fail("'" + name + "' on constants that are not numbers");
  bool integers = !lhs->isDouble() && !rhs->isDouble();
  auto numberResult = [&](double value) {
    if (integers)
      bindConstant(out, c10::IValue(static_cast<int64_t>(value)));
    else
      bindConstant(out, c10::IValue(value));
  };
  if (name == "aten::lt")
    bindConstant(out, c10::IValue(*a < *b));
  else if (name == "aten::le")
    bindConstant(out, c10::IValue(*a <= *b));
  else if (name == "aten::gt")
    bindConstant(out, c10::IValue(*a > *b));
  else if (name == "aten::ge")
    bindConstant(out, c10::IValue(*a >= *b));
  else if (name == "aten::__and__")
    bindConstant(out, c10::IValue(*a != 0 && *b != 0));
  else if (name == "aten::__or__")
    bindConstant(out, c10::IValue(*a != 0 || *b != 0));
  else if (name == "aten::add")
    numberResult(*a + *b);
  else if (name == "aten::sub")
    numberResult(*a - *b);
  else if (name == "aten::mul")
    numberResult(*a * *b);
  else if (name == "aten::floordiv")
    numberResult(std::floor(*a / *b));
  else
    numberResult(*a - *b * std::floor(*a / *b));
  return true;
}

/// The Python source location of a TorchScript range. Loaded archives run
/// their serialized code (code/__torch__.py); the range that generated it is
/// the model's own source, when the archive kept debug information.
static std::optional<Location> sourceLocation(MLIRContext *context,
                                              jit::SourceRange range) {
  if (auto original = range.findSourceRangeThatGenerated())
    range = *original;
  auto where = range.file_line_col();
  if (!where || std::get<1>(*where) == 0)
    return std::nullopt;
  auto [file, line, column] = *where;
  // TorchScript counts columns from 0, MLIR from 1.
  return FileLineColLoc::get(context, file, line, column + 1);
}

/// The node's location; for nodes inlined from submodules, a call-site
/// location whose callers lead back to the model's own forward, so a
/// diagnostic inside torch.nn says where the model called it.
Location Importer::locationOf(jit::Node *node) {
  Location location =
      sourceLocation(context, node->sourceRange())
          .value_or(
              NameLoc::get(builder.getStringAttr(node->kind().toQualString())));
  auto callStack = node->callstack();
  if (!callStack)
    return location;
  std::optional<Location> caller;
  for (const jit::InlinedCallStackEntry &entry : (*callStack)->vec()) {
    std::optional<Location> site = sourceLocation(context, std::get<1>(entry));
    if (!site)
      continue;
    caller = caller ? CallSiteLoc::get(*site, *caller) : *site;
  }
  return caller ? CallSiteLoc::get(location, *caller) : location;
}

/// The dotted path of the submodule a node was inlined from ("" for the
/// model's own forward), e.g. "features.3.conv.0".
static std::string modulePathOf(jit::Node *node) {
  auto callStack = node->callstack();
  if (!callStack)
    return "";
  std::vector<std::string> names;
  for (const jit::InlinedCallStackEntry &entry : (*callStack)->vec())
    if (const auto &info = std::get<2>(entry))
      names.push_back(info->instance_name());
  return llvm::join(names, ".");
}

void Importer::importNode(jit::Node *node) {
  loc = locationOf(node);
  currentNode = node;
  std::string kind = node->kind().toQualString();
  StringRef name(kind);
  // In-place variants (relu_, add_, ...) are imported as their functional
  // form; the mutated input then stands for the result.
  bool inPlace = name.starts_with("aten::") && name.ends_with("_") &&
                 !name.ends_with("__");
  StringRef op = name.drop_front(name.find("::") + 2);
  if (inPlace)
    op = op.drop_back();
  jit::Value *out = node->outputs().empty() ? nullptr : node->output(0);
  auto result = [&](Value value) {
    bind(out, value);
    if (!inPlace)
      return;
    auto it = values.find(node->input(0));
    if (it != values.end() && it->second.state)
      updateState(node->input(0), value); // e.g. num_batches_tracked.add_(1)
    else
      bind(node->input(0), value);
  };
  // Integer tensors (counters such as num_batches_tracked) plus a number.
  if (op == "add" && node->inputs().size() == 3) {
    Value lhs = tensorOf(node->input(0));
    auto type = cast<RankedTensorType>(lhs.getType());
    if (isa<IntegerType>(type.getElementType())) {
      int64_t step = intOf(node->input(1)) * intOf(node->input(2));
      Value constant = arith::ConstantOp::create(
          builder, loc,
          DenseElementsAttr::get(
              type, builder.getIntegerAttr(type.getElementType(), step)));
      result(arith::AddIOp::create(builder, loc, lhs, constant));
      return;
    }
  }

  if (name == "prim::Constant") {
    bindConstant(out, *jit::toIValue(out));
    return;
  }
  if (name == "prim::GetAttr") {
    importGetAttr(node);
    return;
  }
  if (name == "prim::If") {
    // Control flow that TorchScript keeps for checks (input.dim() != 4,
    // self.training): the condition must be a constant; import the branch
    // it takes.
    jit::Block *taken = node->blocks()[boolOf(node->input(0)) ? 0 : 1];
    importBlock(taken);
    for (auto [output, result] : llvm::zip(node->outputs(), taken->outputs()))
      values[output] = values[result];
    return;
  }
  if (name == "prim::RaiseException")
    fail("the model raises an exception here for these inputs");
  if (name == "prim::Uninitialized" || name == "aten::format" ||
      name == "aten::warn") {
    if (out)
      bindConstant(out, c10::IValue());
    return;
  }
  if (name == "prim::unchecked_cast") {
    values[out] = values[node->input(0)];
    return;
  }
  if (importScalarOp(node, name))
    return;
  if (name == "prim::ListConstruct") {
    bool allConstant = llvm::all_of(node->inputs(), [&](jit::Value *input) {
      auto it = values.find(input);
      return it != values.end() && !it->second.isTensor() &&
             it->second.list.empty() && !it->second.constant.isObject();
    });
    bool allInts =
        allConstant && llvm::all_of(node->inputs(), [&](jit::Value *input) {
          return values[input].constant.isInt();
        });
    if (allInts) {
      std::vector<int64_t> items;
      for (jit::Value *input : node->inputs())
        items.push_back(intOf(input));
      bindConstant(out, c10::IValue(items));
      return;
    }
    values[out].list.assign(node->inputs().begin(), node->inputs().end());
    if (node->inputs().empty())
      bindConstant(out, c10::IValue(std::vector<int64_t>{}));
    return;
  }
  if (name == "prim::NumToTensor" || name == "aten::Int" ||
      name == "aten::Float") {
    bindConstant(out, constantOf(node->input(0)));
    return;
  }
  if (name == "aten::size") {
    Value input = tensorOf(node->input(0));
    int64_t rank = shapeOf(input).size();
    if (node->inputs().size() == 1) {
      bindConstant(out, c10::IValue(std::vector<int64_t>(
                            shapeOf(input).begin(), shapeOf(input).end())));
      return;
    }
    int64_t dim = intOf(node->input(1));
    if (dim < 0)
      dim += rank;
    if (dim < 0 || dim >= rank)
      fail("size dimension out of range");
    bindConstant(out, c10::IValue(shapeOf(input)[dim]));
    return;
  }

  if (op == "_convolution") {
    if (boolOf(node->input(6)))
      fail("transposed convolution is not supported yet");
    result(convolution(tensorOf(node->input(0)), tensorOf(node->input(1)),
                       node->input(2), intsOf(node->input(3)),
                       intsOf(node->input(4)), intsOf(node->input(5)),
                       intOf(node->input(8))));
    return;
  }
  if (op == "conv2d" || op == "_convolution_mode") {
    // conv2d(input, weight, bias, stride, padding, dilation, groups), where
    // padding may be "valid" or "same" (_convolution_mode).
    Value input = tensorOf(node->input(0)), weight = tensorOf(node->input(1));
    std::vector<int64_t> padding;
    const c10::IValue &padValue = constantOf(node->input(4));
    if (padValue.isString()) {
      std::string mode = padValue.toStringRef();
      std::vector<int64_t> dilation = pair(intsOf(node->input(5)), "dilation");
      if (mode == "valid") {
        padding = {0, 0};
      } else if (mode == "same" && shapeOf(weight).size() == 4) {
        for (int64_t dim = 0; dim < 2; ++dim) {
          int64_t total = dilation[dim] * (shapeOf(weight)[2 + dim] - 1);
          if (total % 2 != 0)
            fail("conv2d padding 'same' with an even kernel is not supported");
          padding.push_back(total / 2);
        }
      } else {
        fail("conv2d padding '" + mode + "' is not supported");
      }
    } else {
      padding = intsOf(node->input(4));
    }
    result(convolution(input, weight, node->input(2), intsOf(node->input(3)),
                       padding, intsOf(node->input(5)), intOf(node->input(6))));
    return;
  }
  if (op == "linear") {
    Value input = tensorOf(node->input(0)), weight = tensorOf(node->input(1));
    ArrayRef<int64_t> shape = shapeOf(input);
    int64_t k = shape.back(), rows = 1;
    for (int64_t size : shape.drop_back())
      rows *= size;
    Value product =
        matmul2d(reshape(input, {rows, k}), transpose(weight, {1, 0}));
    if (!isNone(node->input(2)))
      product = add(product, tensorOf(node->input(2)));
    SmallVector<int64_t> outShape(shape.drop_back());
    outShape.push_back(shapeOf(weight)[0]);
    result(reshape(product, outShape));
    return;
  }
  if (op == "addmm") {
    Value product =
        matmul2d(tensorOf(node->input(1)), tensorOf(node->input(2)));
    int64_t rank = 2;
    double beta = floatOf(node->input(3)), alpha = floatOf(node->input(4));
    if (alpha != 1.0)
      product = mul(product, splat(static_cast<float>(alpha), rank));
    Value bias = tensorOf(node->input(0));
    if (beta != 1.0)
      bias = mul(bias, splat(static_cast<float>(beta), rank));
    result(add(bias, product));
    return;
  }
  if (op == "mm" || op == "matmul") {
    Value lhs = tensorOf(node->input(0)), rhs = tensorOf(node->input(1));
    if (shapeOf(lhs).size() != 2 || shapeOf(rhs).size() != 2)
      fail("only products of 2-d matrices are supported");
    result(matmul2d(lhs, rhs));
    return;
  }
  if (op == "fake_quantize_per_tensor_affine") {
    // (input, scale, zero_point, quant_min, quant_max)
    Value input = tensorOf(node->input(0));
    result(fakeQuantize(
        input, scalarParameter(node->input(1), builder.getF32Type()),
        scalarParameter(node->input(2), builder.getI32Type()),
        intOf(node->input(3)), intOf(node->input(4)), std::nullopt));
    return;
  }
  if (op == "fake_quantize_per_channel_affine") {
    // (input, scale, zero_point, axis, quant_min, quant_max)
    Value input = tensorOf(node->input(0));
    int64_t axis = intOf(node->input(3));
    if (axis < 0)
      axis += shapeOf(input).size();
    result(fakeQuantize(input, tensorOf(node->input(1)),
                        tensorOf(node->input(2)), intOf(node->input(4)),
                        intOf(node->input(5)), axis));
    return;
  }
  if (op == "fused_moving_avg_obs_fake_quant") {
    result(fusedObserveFakeQuant(node));
    return;
  }
  if (op == "batch_norm") {
    result(batchNorm(node));
    return;
  }
  if (op == "relu") {
    result(clamp(tensorOf(node->input(0)), 0.0f, kInf));
    return;
  }
  if (op == "relu6") {
    result(clamp(tensorOf(node->input(0)), 0.0f, 6.0f));
    return;
  }
  if (op == "hardtanh") {
    result(clamp(tensorOf(node->input(0)),
                 static_cast<float>(floatOf(node->input(1))),
                 static_cast<float>(floatOf(node->input(2)))));
    return;
  }
  if (op == "hardsigmoid" || op == "hardswish") {
    // hardsigmoid(x) = clamp(x + 3, 0, 6) / 6; hardswish(x) = x * that.
    Value x = tensorOf(node->input(0));
    int64_t rank = shapeOf(x).size();
    Value gate = mul(clamp(add(x, splat(3.0f, rank)), 0.0f, 6.0f),
                     splat(1.0f / 6.0f, rank));
    result(op == "hardswish" ? mul(x, gate) : gate);
    return;
  }
  if (op == "sigmoid" || op == "tanh") {
    Value x = tensorOf(node->input(0));
    result(
        op == "sigmoid"
            ? tosa::SigmoidOp::create(builder, loc, x.getType(), x).getResult()
            : tosa::TanhOp::create(builder, loc, x.getType(), x).getResult());
    return;
  }
  if (op == "max_pool2d") {
    result(pool(tensorOf(node->input(0)), intsOf(node->input(1)),
                intsOf(node->input(2)), intsOf(node->input(3)),
                intsOf(node->input(4)), /*max=*/true, boolOf(node->input(5))));
    return;
  }
  if (op == "avg_pool2d") {
    // avg_pool2d(input, kernel, stride, padding, ceil_mode,
    //            count_include_pad, divisor_override)
    std::vector<int64_t> kernel = pair(intsOf(node->input(1)), "kernel_size");
    std::vector<int64_t> padding = pair(intsOf(node->input(3)), "padding");
    bool includePad = boolOf(node->input(5));
    if (!includePad && (padding[0] || padding[1]))
      fail("avg_pool2d with padding and count_include_pad=False is not "
           "supported");
    Value sum = pool(tensorOf(node->input(0)), kernel, intsOf(node->input(2)),
                     padding, {1, 1}, /*max=*/false, boolOf(node->input(4)));
    double divisor = isNone(node->input(6))
                         ? static_cast<double>(kernel[0] * kernel[1])
                         : floatOf(node->input(6));
    result(mul(sum, splat(static_cast<float>(1.0 / divisor), 4)));
    return;
  }
  if (op == "adaptive_avg_pool2d") {
    Value input = tensorOf(node->input(0));
    std::vector<int64_t> size = pair(intsOf(node->input(1)), "output_size");
    int64_t h = shapeOf(input)[2], w = shapeOf(input)[3];
    if (size[0] <= 0 || size[1] <= 0 || h % size[0] != 0 || w % size[1] != 0)
      fail("adaptive_avg_pool2d is supported when the output size divides "
           "the input size");
    std::vector<int64_t> kernel = {h / size[0], w / size[1]};
    Value sum = pool(input, kernel, kernel, {0, 0}, {1, 1}, /*max=*/false,
                     /*ceilMode=*/false);
    result(
        mul(sum, splat(1.0f / static_cast<float>(kernel[0] * kernel[1]), 4)));
    return;
  }
  if (op == "add" || op == "sub" || op == "mul" || op == "div") {
    result(binaryArith(node, op));
    return;
  }
  if (op == "flatten") {
    Value x = tensorOf(node->input(0));
    ArrayRef<int64_t> shape = shapeOf(x);
    int64_t rank = shape.size();
    int64_t start = intOf(node->input(1)), end = intOf(node->input(2));
    if (start < 0)
      start += rank;
    if (end < 0)
      end += rank;
    if (rank == 0) {
      result(reshape(x, {1}));
      return;
    }
    if (start < 0 || end >= rank || start > end)
      fail("flatten dimensions out of range");
    SmallVector<int64_t> outShape(shape.take_front(start));
    int64_t folded = 1;
    for (int64_t dim = start; dim <= end; ++dim)
      folded *= shape[dim];
    outShape.push_back(folded);
    llvm::append_range(outShape, shape.drop_front(end + 1));
    result(reshape(x, outShape));
    return;
  }
  if (op == "view" || op == "reshape") {
    Value x = tensorOf(node->input(0));
    std::vector<int64_t> shape = intsOf(node->input(1));
    int64_t known = 1, inferred = -1, total = 1;
    for (int64_t size : shapeOf(x))
      total *= size;
    for (auto [index, size] : llvm::enumerate(shape)) {
      if (size == -1) {
        if (inferred >= 0)
          fail("view/reshape with more than one -1");
        inferred = index;
      } else {
        known *= size;
      }
    }
    if (inferred >= 0)
      shape[inferred] = known ? total / known : 0;
    int64_t count = 1;
    for (int64_t size : shape)
      count *= size;
    if (count != total)
      fail("view/reshape changes the number of elements");
    result(reshape(x, shape));
    return;
  }
  if (op == "contiguous" || op == "dropout" || op == "feature_dropout" ||
      op == "detach" || op == "clone") {
    if (op == "dropout" && boolOf(node->input(2))) {
      // Training-mode dropout: random numbers from forward's rng_seed
      // argument, a separate stream per dropout.
      float probability = static_cast<float>(floatOf(node->input(1)));
      Value input = tensorOf(node->input(0));
      result(DropoutOp::create(builder, loc, input.getType(), input, rngSeed(),
                               dropoutCount++, llvm::APFloat(probability)));
      return;
    }
    if (op == "feature_dropout" && boolOf(node->input(2)))
      fail("feature (channel) dropout in training mode is not supported yet");
    result(tensorOf(node->input(0)));
    return;
  }
  if (op == "permute" || op == "transpose" || op == "t") {
    Value x = tensorOf(node->input(0));
    int64_t rank = shapeOf(x).size();
    SmallVector<int32_t> perms;
    for (int64_t dim = 0; dim < rank; ++dim)
      perms.push_back(dim);
    if (op == "permute") {
      perms.clear();
      for (int64_t dim : intsOf(node->input(1)))
        perms.push_back(dim < 0 ? dim + rank : dim);
    } else if (op == "t") {
      if (rank == 2)
        std::swap(perms[0], perms[1]);
    } else {
      int64_t a = intOf(node->input(1)), b = intOf(node->input(2));
      a = a < 0 ? a + rank : a;
      b = b < 0 ? b + rank : b;
      if (a < 0 || b < 0 || a >= rank || b >= rank)
        fail("transpose dimensions out of range");
      std::swap(perms[a], perms[b]);
    }
    SmallVector<int32_t> sorted(perms);
    llvm::sort(sorted);
    for (int64_t dim = 0; dim < rank; ++dim)
      if (static_cast<int64_t>(sorted.size()) != rank || sorted[dim] != dim)
        fail("permute needs a permutation of the dimensions");
    result(transpose(x, perms));
    return;
  }
  if (op == "cat") {
    auto it = values.find(node->input(0));
    if (it == values.end() || it->second.list.empty())
      fail("cat needs a list of tensors");
    SmallVector<Value> inputs;
    for (jit::Value *item : it->second.list)
      inputs.push_back(tensorOf(item));
    int64_t rank = shapeOf(inputs.front()).size();
    int64_t dim = intOf(node->input(1));
    if (dim < 0)
      dim += rank;
    if (dim < 0 || dim >= rank)
      fail("cat dimension out of range");
    SmallVector<int64_t> shape(shapeOf(inputs.front()));
    shape[dim] = 0;
    for (Value input : inputs)
      shape[dim] += shapeOf(input)[dim];
    result(tosa::ConcatOp::create(builder, loc, f32(shape), inputs,
                                  builder.getI32IntegerAttr(dim)));
    return;
  }
  if (op == "mean") {
    Value x = tensorOf(node->input(0));
    std::vector<int64_t> dims;
    bool keepDim = false;
    if (node->inputs().size() >= 3) {
      dims = intsOf(node->input(1));
      keepDim = boolOf(node->input(2));
    } else {
      for (int64_t dim = 0; dim < static_cast<int64_t>(shapeOf(x).size());
           ++dim)
        dims.push_back(dim);
    }
    result(mean(x, dims, keepDim));
    return;
  }
  if (op == "softmax" || op == "log_softmax") {
    result(softmax(tensorOf(node->input(0)), intOf(node->input(1)),
                   op == "log_softmax"));
    return;
  }
  fail("unsupported op '" + kind + "'");
}

//===----------------------------------------------------------------------===//
// Model structure
//===----------------------------------------------------------------------===//

/// The state_dict's entries in its order: each module's parameters, then its
/// buffers, then its children's, depth first.
void Importer::collectState(const jit::Module &module,
                            const std::string &prefix) {
  for (const auto &parameter : module.named_parameters(/*recurse=*/false))
    state.push_back({prefix + parameter.name, parameter.value});
  for (const auto &buffer : module.named_buffers(/*recurse=*/false))
    state.push_back({prefix + buffer.name, buffer.value});
  for (const auto &child : module.named_children())
    collectState(child.value, prefix + child.name + ".");
}

/// Resolves prim::GetAttr on a module object: submodules and constants are
/// recorded; a parameter or buffer becomes a leading argument of forward
/// (added on first use, so forward takes exactly the state it reads).
void Importer::importGetAttr(jit::Node *node) {
  auto parent = values.find(node->input(0));
  if (parent == values.end() || !parent->second.constant.isObject())
    fail("attribute access on something other than a module");
  std::string name = node->s(jit::attr::name);
  c10::IValue attribute = parent->second.constant.toObject()->getAttr(name);
  if (!attribute.isTensor()) {
    bindConstant(node->output(), attribute);
    return;
  }
  auto it = stateIndex.find(attribute.toTensor().unsafeGetTensorImpl());
  if (it == stateIndex.end())
    fail("tensor attribute '" + name + "' is neither a parameter nor a buffer");
  values[node->output()].state = it->second;
}

/// The current value of a state entry: its latest update, or its forward
/// argument (added on first use, so forward takes exactly the state it
/// reads).
Value Importer::stateValue(size_t index) {
  if (auto update = stateUpdates.find(index); update != stateUpdates.end())
    return update->second;
  auto argument = stateArguments.find(index);
  if (argument == stateArguments.end()) {
    RankedTensorType type = typeOf(builder, state[index].tensor);
    if (!type.getElementType())
      fail("state tensor '" + state[index].name + "' has an unsupported dtype");
    Block &body = forward.getBody().front();
    Value value = body.insertArgument(usedState.size(), type, loc);
    usedState.push_back(index);
    argument = stateArguments.insert({index, value}).first;
  }
  return argument->second;
}

size_t Importer::stateIndexOf(jit::Value *value) {
  auto it = values.find(value);
  if (it == values.end() || !it->second.state)
    fail("operand '%" + value->debugName() +
         "' must be a parameter or buffer of the model");
  return *it->second.state;
}

/// Records that the model writes `newValue` (reshaped to the entry's shape)
/// into the state entry `value` refers to, as PyTorch's in-place kernels do.
void Importer::updateState(jit::Value *value, Value newValue) {
  size_t index = stateIndexOf(value);
  RankedTensorType type = typeOf(builder, state[index].tensor);
  if (newValue.getType() != type) {
    auto from = cast<RankedTensorType>(newValue.getType());
    if (from.getNumElements() != type.getNumElements() ||
        from.getElementType() != type.getElementType())
      fail("the update of '" + state[index].name + "' does not fit it");
    SmallVector<ReassociationIndices> none;
    if (from.getRank() == 0)
      newValue =
          tensor::ExpandShapeOp::create(builder, loc, type, newValue, none);
    else if (type.getRank() == 0)
      newValue =
          tensor::CollapseShapeOp::create(builder, loc, type, newValue, none);
    else
      fail("the update of '" + state[index].name + "' changes its shape");
  }
  stateUpdates[index] = newValue;
}

Type elementTypeOf(OpBuilder &builder, const at::Tensor &tensor) {
  switch (tensor.scalar_type()) {
  case at::kFloat:
    return builder.getF32Type();
  case at::kLong:
    return builder.getI64Type();
  case at::kInt:
    return builder.getI32Type();
  case at::kByte:
    return builder.getIntegerType(8, /*isSigned=*/false);
  case at::kChar:
    return builder.getI8Type();
  default:
    return {};
  }
}

RankedTensorType typeOf(OpBuilder &builder, const at::Tensor &tensor) {
  std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
  return RankedTensorType::get(shape, elementTypeOf(builder, tensor));
}

/// Puts forward's state arguments (added in the order the body first read
/// them) into state_dict order.
void Importer::sortStateArguments() {
  Block &body = forward.getBody().front();
  size_t count = usedState.size();
  std::vector<size_t> sorted(usedState);
  llvm::sort(sorted);
  for (auto [position, index] : llvm::enumerate(sorted))
    stateArguments[index] = body.insertArgument(
        position, typeOf(builder, state[index].tensor), forward.getLoc());
  llvm::BitVector old(body.getNumArguments());
  for (auto [position, index] : llvm::enumerate(usedState)) {
    Value stale = body.getArgument(count + position);
    stale.replaceAllUsesWith(stateArguments[index]);
    for (auto &[updated, value] : stateUpdates)
      if (value == stale)
        value = stateArguments[index];
    old.set(count + position);
  }
  body.eraseArguments(old);
  usedState = std::move(sorted);
}

/// The 0-d i64 seed argument that training-mode dropout draws from, added
/// after the inputs on first use.
Value Importer::rngSeed() {
  if (!seedArgument)
    seedArgument = forward.getBody().front().addArgument(
        RankedTensorType::get({}, builder.getI64Type()), loc);
  return seedArgument;
}

/// Creates forward with the model's inputs as arguments; state arguments
/// are inserted in front of them as the body reads them.
func::FuncOp Importer::createForward(jit::Graph &graph) {
  SmallVector<Type> argTypes;
  auto inputs = graph.inputs().slice(1);
  if (!options.inputShapes.empty() &&
      options.inputShapes.size() != inputs.size())
    fail("the model takes " + llvm::Twine(inputs.size()) + " inputs but " +
         llvm::Twine(options.inputShapes.size()) + " shapes were given");
  for (auto [index, input] : llvm::enumerate(inputs)) {
    auto tensorType = input->type()->cast<c10::TensorType>();
    if (!tensorType)
      fail("input '" + input->debugNameBase() + "' is not a tensor");
    std::vector<int64_t> shape;
    if (!options.inputShapes.empty()) {
      shape = options.inputShapes[index];
    } else {
      auto sizes = tensorType->sizes().concrete_sizes();
      if (!sizes)
        fail("input '" + input->debugNameBase() +
             "' has no recorded shape (archives keep none): give "
             "--input-shape");
      shape = *sizes;
    }
    auto scalar = tensorType->scalarType();
    if (scalar && *scalar != at::kFloat)
      fail("input '" + input->debugNameBase() + "' is not float32");
    argTypes.push_back(f32(shape));
  }

  builder.setInsertionPointToEnd(module->getBody());
  forward = func::FuncOp::create(builder, loc, "forward",
                                 builder.getFunctionType(argTypes, {}));
  Block *body = forward.addEntryBlock();
  for (auto [index, input] : llvm::enumerate(inputs))
    bind(input, body->getArgument(index));
  return forward;
}

/// Names every argument of forward (qat.state or qat.input) and fixes its
/// type once the body is complete.
static void finishForward(func::FuncOp forward, OpBuilder &builder,
                          ArrayRef<std::string> stateNames,
                          ArrayRef<std::string> inputNames,
                          ValueRange results) {
  Block &body = forward.getBody().front();
  forward.setFunctionType(
      builder.getFunctionType(body.getArgumentTypes(), results.getTypes()));
  SmallVector<DictionaryAttr> argAttrs;
  for (const std::string &name : stateNames)
    argAttrs.push_back(builder.getDictionaryAttr(
        builder.getNamedAttr("qat.state", builder.getStringAttr(name))));
  for (const std::string &name : inputNames)
    argAttrs.push_back(builder.getDictionaryAttr(
        builder.getNamedAttr("qat.input", builder.getStringAttr(name))));
  forward.setAllArgAttrs(argAttrs);
}

void Importer::createGlobals() {
  builder.setInsertionPointToStart(module->getBody());
  for (const StateEntry &entry : state) {
    RankedTensorType type = typeOf(builder, entry.tensor);
    if (!type.getElementType())
      fail("state tensor '" + entry.name + "' has an unsupported dtype");
    at::Tensor contiguous = entry.tensor.contiguous();
    ArrayRef<char> bytes(static_cast<const char *>(contiguous.data_ptr()),
                         contiguous.nbytes());
    // Raw bytes, so every value is kept bit for bit (printed as hex).
    auto value = DenseElementsAttr::getFromRawBuffer(type, bytes);
    bool updated = stateUpdates.count(&entry - state.data());
    ml_program::GlobalOp::create(
        builder, UnknownLoc::get(context), builder.getStringAttr(entry.name),
        TypeAttr::get(type), updated ? builder.getUnitAttr() : nullptr, value,
        builder.getStringAttr("private"));
  }
}

void Importer::createPredict(func::FuncOp forward) {
  builder.setInsertionPointToEnd(module->getBody());
  FunctionType type = forward.getFunctionType();
  auto inputTypes = type.getInputs().drop_front(usedState.size());
  size_t outputCount = type.getNumResults() - stateUpdates.size();
  auto predict = func::FuncOp::create(
      builder, UnknownLoc::get(context), "predict",
      builder.getFunctionType(inputTypes,
                              type.getResults().take_front(outputCount)));
  Block *body = predict.addEntryBlock();
  builder.setInsertionPointToStart(body);
  SmallVector<Value> arguments;
  for (auto [position, index] : llvm::enumerate(usedState))
    arguments.push_back(ml_program::GlobalLoadOp::create(
        builder, predict.getLoc(), type.getInput(position),
        SymbolRefAttr::get(context, state[index].name)));
  llvm::append_range(arguments, body->getArguments());
  auto call =
      func::CallOp::create(builder, predict.getLoc(), forward, arguments);
  // The state the model writes goes back into its globals, so repeated
  // calls observe as PyTorch's forward does.
  for (auto [position, entry] : llvm::enumerate(stateUpdates))
    ml_program::GlobalStoreOp::create(
        builder, predict.getLoc(),
        SymbolRefAttr::get(context, state[entry.first].name),
        call.getResult(outputCount + position));
  func::ReturnOp::create(builder, predict.getLoc(),
                         call.getResults().take_front(outputCount));
}

OwningOpRef<ModuleOp> Importer::run() {
  loc = FileLineColLoc::get(context, path, 0, 0);
  module = ModuleOp::create(loc);
  std::shared_ptr<jit::Graph> graph;
  try {
    torchModule.train(options.trainingMode);
    graph = torchModule.get_method("forward").graph()->copy();
    jit::Inline(*graph);
    collectState(torchModule, "");
    for (auto [index, entry] : llvm::enumerate(state))
      stateIndex[entry.tensor.unsafeGetTensorImpl()] = index;
    values[graph->inputs()[0]].constant = torchModule._ivalue();
    createForward(*graph);
    builder.setInsertionPointToStart(&forward.getBody().front());
    importBlock(graph->block());
    SmallVector<Value> results;
    for (jit::Value *output : graph->outputs()) {
      jit::Node *producer = output->node();
      if (producer->kind() == c10::prim::TupleConstruct) {
        for (jit::Value *item : producer->inputs())
          results.push_back(tensorOf(item));
      } else {
        results.push_back(tensorOf(output));
      }
    }
    loc = forward.getLoc();
    size_t outputCount = results.size();
    for (auto &[index, value] : stateUpdates)
      results.push_back(value);
    func::ReturnOp::create(builder, loc, results);
    sortStateArguments();
    // Sorting may have replaced arguments that are returned as updates.
    results.resize(outputCount);
    for (auto &[index, value] : stateUpdates)
      results.push_back(value);
    forward.getBody().front().getTerminator()->setOperands(results);
    std::vector<std::string> stateNames, inputNames;
    for (size_t index : usedState)
      stateNames.push_back(state[index].name);
    for (jit::Value *input : graph->inputs().slice(1))
      inputNames.push_back(input->debugNameBase());
    if (seedArgument)
      inputNames.push_back("rng_seed");
    finishForward(forward, builder, stateNames, inputNames, results);
    for (auto [position, entry] : llvm::enumerate(stateUpdates))
      forward.setResultAttr(outputCount + position, "qat.state",
                            builder.getStringAttr(state[entry.first].name));
    createGlobals();
    createPredict(forward);
  } catch (const ImportError &error) {
    std::string path = currentNode ? modulePathOf(currentNode) : "";
    InFlightDiagnostic diagnostic = emitError(loc) << error.what();
    if (!path.empty())
      diagnostic << " (in module '" << path << "')";
    return nullptr;
  } catch (const c10::Error &error) {
    emitError(loc) << error.what_without_backtrace();
    return nullptr;
  } catch (const std::exception &error) {
    emitError(loc) << error.what();
    return nullptr;
  }
  if (failed(verify(*module)))
    return nullptr;
  return std::move(module);
}

} // namespace

OwningOpRef<ModuleOp>
mlir::qat::importTorchScript(MLIRContext *context, StringRef path,
                             const TorchImportOptions &options) {
  context->loadDialect<QatDialect, arith::ArithDialect, func::FuncDialect,
                       linalg::LinalgDialect, ml_program::MLProgramDialect,
                       tensor::TensorDialect, tosa::TosaDialect>();
  Location fileLoc = FileLineColLoc::get(context, path, 0, 0);
  jit::Module torchModule;
  try {
    torchModule = jit::load(path.str());
  } catch (const c10::Error &error) {
    std::string message = error.what_without_backtrace();
    emitError(fileLoc) << "cannot load a TorchScript archive: "
                       << StringRef(message).split('\n').first;
    return nullptr;
  } catch (const std::exception &error) {
    emitError(fileLoc) << "cannot load a TorchScript archive: "
                       << StringRef(error.what()).split('\n').first;
    return nullptr;
  }
  return Importer(context, std::move(torchModule), options, path).run();
}
