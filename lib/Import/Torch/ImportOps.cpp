//===- ImportOps.cpp - MLIR for each TorchScript op -------------*- C++ -*-===//
//
// Part of qat-mlir. Operand access and the emission of tosa, linalg and qat
// ops for the TorchScript ops the importer supports.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

using namespace mlir;
using namespace mlir::qat;

namespace mlir::qat::torch_import {

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
         it->second.list.empty() && it->second.tensorList.empty() &&
         it->second.constant.isNone();
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

/// A list of floats (scale factors): built from values, or a constant; an
/// empty list for anything else (the caller says what it needs).
std::vector<double> Importer::floatsOf(jit::Value *value) {
  std::vector<double> result;
  auto it = values.find(value);
  if (it != values.end() && !it->second.list.empty()) {
    for (jit::Value *item : it->second.list)
      result.push_back(floatOf(item));
  } else if (constantOf(value).isDoubleList()) {
    result = constantOf(value).toDoubleVector();
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Emission helpers
//===----------------------------------------------------------------------===//

Value Importer::splat(float value, int64_t rank) {
  return builders::scalar(builder, loc, value, rank);
}

Value Importer::zeros(ArrayRef<int64_t> shape) {
  return builders::zeros(builder, loc, f32(shape));
}

Value Importer::reshape(Value value, ArrayRef<int64_t> shape) {
  if (shapeOf(value) == shape)
    return value;
  return builders::reshape(builder, loc, value, shape);
}

Value Importer::transpose(Value value, ArrayRef<int32_t> perms) {
  ArrayRef<int64_t> shape = shapeOf(value);
  SmallVector<int64_t> result;
  for (int32_t dim : perms)
    result.push_back(shape[dim]);
  return tosa::TransposeOp::create(builder, loc, f32(result), value, perms);
}

/// `size` entries of dimension `dim` from `start`, every `step`-th.
Value Importer::slice(Value value, int64_t dim, int64_t start, int64_t size,
                      int64_t step) {
  ArrayRef<int64_t> shape = shapeOf(value);
  if (start == 0 && size == shape[dim] && step == 1)
    return value;
  SmallVector<OpFoldResult> offsets, sizes, strides;
  SmallVector<int64_t> resultShape(shape);
  resultShape[dim] = size;
  for (auto [index, extent] : llvm::enumerate(shape)) {
    bool sliced = static_cast<int64_t>(index) == dim;
    offsets.push_back(builder.getIndexAttr(sliced ? start : 0));
    sizes.push_back(builder.getIndexAttr(sliced ? size : extent));
    strides.push_back(builder.getIndexAttr(sliced ? step : 1));
  }
  return tensor::ExtractSliceOp::create(builder, loc, f32(resultShape), value,
                                        offsets, sizes, strides);
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

// The operations are the shared tosa builders' (the gradient rules and the
// QAT passes build the same arithmetic); the importer first brings the
// operands to one rank, as PyTorch's broadcasting allows and tosa does not.
Value Importer::add(Value lhs, Value rhs) {
  auto [l, r] = broadcast(lhs, rhs);
  return builders::add(builder, loc, l, r);
}

Value Importer::sub(Value lhs, Value rhs) {
  auto [l, r] = broadcast(lhs, rhs);
  return builders::sub(builder, loc, l, r);
}

Value Importer::mul(Value lhs, Value rhs) {
  auto [l, r] = broadcast(lhs, rhs);
  return builders::mul(builder, loc, l, r);
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

std::vector<int64_t> pair(std::vector<int64_t> values, const char *what) {
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

Value Importer::reduce(Value input, std::vector<int64_t> dims, bool keepDim,
                       bool average) {
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
  Value result = average
                     ? mul(input, splat(1.0f / static_cast<float>(count), rank))
                     : input;
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
  //            momentum, eps, cudnn_enabled) as one qat.batch_norm; absent
  // weight and bias are ones and zeros (exact: x * 1 = x, x + 0 = x).
  // Without running statistics (track_running_stats=False) the op gets
  // zeros and its updates are dropped.
  Value input = tensorOf(node->input(0));
  int64_t rank = shapeOf(input).size();
  if (rank < 2)
    fail("batch_norm needs an input of rank 2 or more");
  int64_t channels = shapeOf(input)[1];
  // A traced model keeps the mode it was traced in as a constant: an
  // evaluation-mode import normalizes with the running statistics whatever
  // that constant says (a frozen batch norm in a training-mode import
  // stays frozen). Without running statistics PyTorch always uses the
  // batch's.
  bool hasRunningStats = !isNone(node->input(3));
  bool training =
      boolOf(node->input(5)) && (options.trainingMode || !hasRunningStats);
  if (!training && !hasRunningStats)
    fail("batch_norm in evaluation mode needs running statistics");
  auto vectorOr = [&](jit::Value *value, float fill) {
    if (!isNone(value))
      return tensorOf(value);
    RankedTensorType type = f32({channels});
    return Value(tosa::ConstOp::create(builder, loc, type,
                                       DenseElementsAttr::get(type, fill)));
  };
  Value weight = vectorOr(node->input(1), 1.0f);
  Value bias = vectorOr(node->input(2), 0.0f);
  Value runningMean = vectorOr(node->input(3), 0.0f);
  Value runningVar = vectorOr(node->input(4), 1.0f);
  if (shapeOf(weight) != ArrayRef<int64_t>{channels} ||
      shapeOf(runningMean) != shapeOf(weight))
    fail("batch_norm parameters do not have one entry per input channel (" +
         llvm::Twine(channels) + ")");
  double momentum = isNone(node->input(6)) ? 0.0 : floatOf(node->input(6));
  if (training && hasRunningStats && isNone(node->input(6)))
    fail("batch_norm with a cumulative moving average (momentum=None) is not "
         "supported");
  auto op = BatchNormOp::create(
      builder, loc,
      TypeRange{input.getType(), weight.getType(), weight.getType()}, input,
      weight, bias, runningMean, runningVar,
      training ? builder.getUnitAttr() : UnitAttr(),
      builder.getF32FloatAttr(static_cast<float>(floatOf(node->input(7)))),
      builder.getF32FloatAttr(static_cast<float>(momentum)),
      /*replicas=*/IntegerAttr());
  if (failed(verify(op)))
    fail("invalid batch_norm (see the diagnostic above)");
  if (training && hasRunningStats) {
    updateState(node->input(3), op.getNewRunningMean());
    updateState(node->input(4), op.getNewRunningVar());
  }
  return op.getOutput();
}

/// add/sub/mul/div with a tensor or scalar second operand (and alpha), and
/// rsub (`1 - x` in Python): other - alpha * self.
Value Importer::binaryArith(jit::Node *node, StringRef kind) {
  Value lhs = tensorOf(node->input(0));
  int64_t rank = shapeOf(lhs).size();
  auto it = values.find(node->input(1));
  Value rhs = it != values.end() && it->second.isTensor()
                  ? tensorOf(node->input(1))
                  : splat(static_cast<float>(floatOf(node->input(1))), rank);
  if ((kind == "add" || kind == "sub" || kind == "rsub") &&
      node->inputs().size() > 2) {
    double alpha = floatOf(node->input(2));
    Value &scaled = kind == "rsub" ? lhs : rhs;
    if (alpha != 1.0)
      scaled = mul(scaled, splat(static_cast<float>(alpha), rank));
  }
  if (kind == "rsub")
    return sub(rhs, lhs);
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

} // namespace mlir::qat::torch_import
