//===- ImportImageOps.cpp - ops of image-to-image networks -----*- C++ -*-===//
//
// Part of qat-mlir. The ops that generators, decoders and segmentation
// heads add to the classifiers' set: transposed convolution, instance and
// group normalization, PReLU, constant/reflection/replication padding and
// bilinear upsampling. Each is built from ops that already have gradient
// rules, fake-quantization handling and lowerings, so that nothing below
// the importer needs a case of its own:
//
// - A transposed convolution is a stride-1 convolution of the input with
//   zeros inserted between its entries (expand_shape, pad, collapse_shape:
//   all move int8 codes) and the weight's two channel axes swapped and its
//   window flipped (tosa.transpose, tosa.reverse). It is a layer like any
//   convolution: fake-quantized per output channel and run in int8.
// - Normalization, PReLU and bilinear upsampling are f32 arithmetic; in a
//   quantized model they run in float between quantized layers, as
//   PyTorch's eager QAT keeps them.
// - Reflection and replication padding concatenate slices of their input:
//   every piece is on the input's grid.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qat;

namespace mlir::qat::torch_import {

/// conv_transpose2d as a convolution: y = conv(stuff(x), flip(w^T)) with
/// stride 1. `stuff` inserts stride - 1 zeros between the input's entries
/// and pads by dilation * (kernel - 1) - padding (plus output_padding at
/// the end); a negative amount crops instead.
Value Importer::transposedConvolution(
    Value input, Value weight, jit::Value *bias, std::vector<int64_t> stride,
    std::vector<int64_t> padding, std::vector<int64_t> outputPadding,
    std::vector<int64_t> dilation, int64_t groups) {
  if (shapeOf(input).size() != 4 || shapeOf(weight).size() != 4)
    fail("only 2-d transposed convolutions (4-d input and weight) are "
         "supported");
  if (groups != 1)
    fail("transposed convolution with groups = " + llvm::Twine(groups) +
         " is not supported (only groups = 1)");
  stride = pair(stride, "stride");
  padding = pair(padding, "padding");
  outputPadding = pair(outputPadding, "output_padding");
  dilation = pair(dilation, "dilation");
  SmallVector<int64_t> in(shapeOf(input));
  ArrayRef<int64_t> w = shapeOf(weight);
  if (w[0] != in[1])
    fail("transposed convolution weight has " + llvm::Twine(w[0]) +
         " input channels; the input has " + llvm::Twine(in[1]));
  for (int dim = 0; dim < 2; ++dim) {
    if (stride[dim] < 1 || dilation[dim] < 1 || padding[dim] < 0)
      fail("transposed convolution needs positive strides and dilations "
           "and non-negative padding");
    if (outputPadding[dim] < 0 || (outputPadding[dim] >= stride[dim] &&
                                   outputPadding[dim] >= dilation[dim]))
      fail("output_padding must be smaller than either stride or dilation");
  }

  // Zeros between the entries: x viewed as N x C x H x 1 x W x 1, padded to
  // N x C x H x sh x W x sw, seen as N x C x H*sh x W*sw (stride - 1 zeros
  // after each entry, the last ones included).
  Value stuffed = input;
  if (stride[0] > 1 || stride[1] > 1) {
    auto expanded = tensor::ExpandShapeOp::create(
        builder, loc, f32({in[0], in[1], in[2], 1, in[3], 1}), input,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}, {4, 5}});
    Value spread = pad(expanded, {0, 0, 0, 0, 0, 0},
                       {0, 0, 0, stride[0] - 1, 0, stride[1] - 1}, 0.0f);
    stuffed = tensor::CollapseShapeOp::create(
        builder, loc, f32({in[0], in[1], in[2] * stride[0], in[3] * stride[1]}),
        spread, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}, {4, 5}});
  }
  // Borders: low = d (k - 1) - p, high = the same + output_padding, less
  // the stride - 1 zeros already after the last entry.
  SmallVector<int64_t> low(4, 0), high(4, 0);
  for (int dim = 0; dim < 2; ++dim) {
    int64_t border = dilation[dim] * (w[2 + dim] - 1) - padding[dim];
    low[2 + dim] = border;
    high[2 + dim] = border + outputPadding[dim] - (stride[dim] - 1);
  }
  SmallVector<int64_t> padLow(4, 0), padHigh(4, 0);
  for (int dim = 2; dim < 4; ++dim) {
    padLow[dim] = std::max<int64_t>(low[dim], 0);
    padHigh[dim] = std::max<int64_t>(high[dim], 0);
  }
  Value framed = pad(stuffed, padLow, padHigh, 0.0f);
  for (int dim = 2; dim < 4; ++dim) {
    int64_t cropLow = std::max<int64_t>(-low[dim], 0);
    int64_t cropHigh = std::max<int64_t>(-high[dim], 0);
    int64_t size = shapeOf(framed)[dim] - cropLow - cropHigh;
    if (size < 1)
      fail("transposed convolution output would be empty");
    framed = slice(framed, dim, cropLow, size);
  }

  // The weight, C_in x C_out x kh x kw, as a convolution's filter: C_out x
  // C_in, the window flipped in both directions.
  Value filter = transpose(weight, {1, 0, 2, 3});
  for (int32_t axis : {2, 3})
    filter = tosa::ReverseOp::create(builder, loc, filter.getType(), filter,
                                     builder.getI32IntegerAttr(axis));
  return convolution(framed, filter, bias, {1, 1}, {0, 0}, dilation, 1);
}

/// PyTorch's group norm without its affine part: x viewed as N x G x M
/// (M = C / G x the spatial size), each group centered by its mean and
/// divided by sqrt(biased variance + eps).
Value Importer::groupNormalize(Value input, int64_t groups, float eps) {
  SmallVector<int64_t> shape(shapeOf(input));
  if (shape.size() < 2)
    fail("normalization needs an input of at least 2 dimensions (N x C ...)");
  int64_t n = shape[0], c = shape[1];
  if (groups < 1 || c % groups != 0)
    fail(llvm::Twine(c) + " channels do not split into " + llvm::Twine(groups) +
         " groups");
  int64_t members = 1;
  for (int64_t size : ArrayRef<int64_t>(shape).drop_front())
    members *= size;
  members /= groups;
  Value grouped = reshape(input, {n, groups, members});
  Value count = splat(1.0f / static_cast<float>(members), 3);
  Value mean = mul(reduceSum(grouped, 2), count);
  Value centered = sub(grouped, mean);
  Value variance = mul(reduceSum(mul(centered, centered), 2), count);
  Value shifted = add(variance, splat(eps, 3));
  Value invStd =
      tosa::RsqrtOp::create(builder, loc, shifted.getType(), shifted);
  return reshape(mul(centered, invStd), shape);
}

/// `value` * weight + bias per channel (dimension 1), either optional.
Value Importer::channelAffine(Value value, jit::Value *weight,
                              jit::Value *bias) {
  int64_t rank = shapeOf(value).size();
  int64_t channels = shapeOf(value)[1];
  auto vector = [&](jit::Value *param, const char *what) {
    Value tensor = tensorOf(param);
    if (shapeOf(tensor).size() != 1 || shapeOf(tensor)[0] != channels)
      fail(llvm::Twine(what) + " must have one entry per channel (" +
           llvm::Twine(channels) + ")");
    return channelVector(tensor, rank);
  };
  if (!isNone(weight))
    value = mul(value, vector(weight, "the normalization weight"));
  if (!isNone(bias))
    value = add(value, vector(bias, "the normalization bias"));
  return value;
}

/// Pads the last pads.size() / 2 dimensions of `x` as F.pad does: pads
/// lists (before, after) pairs from the last dimension backwards.
Value Importer::padByMode(Value x, std::vector<int64_t> pads, StringRef mode,
                          float value) {
  int64_t rank = shapeOf(x).size();
  if (pads.size() % 2 != 0 || static_cast<int64_t>(pads.size()) > 2 * rank)
    fail("padding needs (before, after) pairs for at most " +
         llvm::Twine(rank) + " dimensions, got " + llvm::Twine(pads.size()) +
         " values");
  for (int64_t amount : pads)
    if (amount < 0)
      fail("negative padding (cropping) is not supported");
  if (mode == "constant") {
    SmallVector<int64_t> low(rank, 0), high(rank, 0);
    for (size_t pair = 0; pair < pads.size() / 2; ++pair) {
      low[rank - 1 - pair] = pads[2 * pair];
      high[rank - 1 - pair] = pads[2 * pair + 1];
    }
    return pad(x, low, high, value);
  }
  if (mode != "reflect" && mode != "replicate")
    fail("padding mode '" + mode +
         "' is not supported (constant, reflect, "
         "replicate)");
  bool reflect = mode == "reflect";
  for (size_t pair = 0; pair < pads.size() / 2; ++pair) {
    int64_t dim = rank - 1 - pair;
    int64_t before = pads[2 * pair], after = pads[2 * pair + 1];
    int64_t size = shapeOf(x)[dim];
    if (before == 0 && after == 0)
      continue;
    if (reflect && (before >= size || after >= size))
      fail("reflection padding of " + llvm::Twine(std::max(before, after)) +
           " needs a dimension larger than that, got " + llvm::Twine(size));
    // Reflection mirrors around the edge entry (excluded); replication
    // repeats it.
    SmallVector<Value> pieces;
    for (int64_t i = before; i >= 1; --i)
      pieces.push_back(slice(x, dim, reflect ? i : 0, 1));
    pieces.push_back(x);
    for (int64_t i = 1; i <= after; ++i)
      pieces.push_back(slice(x, dim, reflect ? size - 1 - i : size - 1, 1));
    SmallVector<int64_t> shape(shapeOf(x));
    shape[dim] += before + after;
    x = tosa::ConcatOp::create(builder, loc, f32(shape), pieces,
                               builder.getI32IntegerAttr(dim));
  }
  return x;
}

/// The [out, in] matrix of PyTorch's 1-d linear interpolation
/// (upsample_bilinear2d along one axis): each row holds the weights of
/// the two input entries around the output's source coordinate.
static std::vector<float>
linearInterpolationMatrix(int64_t in, int64_t out, bool alignCorners,
                          std::optional<double> scale) {
  // PyTorch's area_pixel_compute_scale and ..._source_index, in float.
  float ratio;
  if (alignCorners)
    ratio = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1)
                    : 0.0f;
  else
    ratio = scale && *scale > 0
                ? static_cast<float>(1.0 / *scale)
                : static_cast<float>(in) / static_cast<float>(out);
  std::vector<float> matrix(out * in, 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    float source =
        alignCorners
            ? ratio * static_cast<float>(o)
            : std::max(ratio * (static_cast<float>(o) + 0.5f) - 0.5f, 0.0f);
    int64_t first = static_cast<int64_t>(source);
    int64_t next = first < in - 1 ? 1 : 0;
    float lambda1 = source - static_cast<float>(first);
    float lambda0 = 1.0f - lambda1;
    matrix[o * in + first] += lambda0;
    matrix[o * in + first + next] += lambda1;
  }
  return matrix;
}

/// upsample_bilinear2d: the width, then the height, interpolated by
/// products with constant matrices (rows of two non-zero weights; adding
/// the zero products leaves each sum's bits unchanged).
Value Importer::bilinearUpsample(Value x, int64_t outH, int64_t outW,
                                 bool alignCorners,
                                 std::optional<double> scaleH,
                                 std::optional<double> scaleW) {
  SmallVector<int64_t> in(shapeOf(x));
  auto matrixT = [&](int64_t from, int64_t to, std::optional<double> scale) {
    std::vector<float> m =
        linearInterpolationMatrix(from, to, alignCorners, scale);
    std::vector<float> transposed(from * to);
    for (int64_t o = 0; o < to; ++o)
      for (int64_t i = 0; i < from; ++i)
        transposed[i * to + o] = m[o * from + i];
    RankedTensorType type = f32({from, to});
    return tosa::ConstOp::create(
        builder, loc, type,
        DenseElementsAttr::get(type, llvm::ArrayRef<float>(transposed)));
  };
  Value wide = reshape(matmul2d(reshape(x, {in[0] * in[1] * in[2], in[3]}),
                                matrixT(in[3], outW, scaleW)),
                       {in[0], in[1], in[2], outW});
  Value columns =
      reshape(transpose(wide, {0, 1, 3, 2}), {in[0] * in[1] * outW, in[2]});
  Value tall = reshape(matmul2d(columns, matrixT(in[2], outH, scaleH)),
                       {in[0], in[1], outW, outH});
  return transpose(tall, {0, 1, 3, 2});
}

void Importer::importImageOp(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  if (op == "conv_transpose2d") {
    // conv_transpose2d(input, weight, bias, stride, padding,
    // output_padding, groups, dilation)
    n.result(transposedConvolution(
        tensorOf(node->input(0)), tensorOf(node->input(1)), node->input(2),
        intsOf(node->input(3)), intsOf(node->input(4)), intsOf(node->input(5)),
        intsOf(node->input(7)), intOf(node->input(6))));
    return;
  }
  if (op == "group_norm") {
    // group_norm(input, num_groups, weight, bias, eps, cudnn_enabled)
    Value x = tensorOf(node->input(0));
    Value y = groupNormalize(x, intOf(node->input(1)),
                             static_cast<float>(floatOf(node->input(4))));
    n.result(channelAffine(y, node->input(2), node->input(3)));
    return;
  }
  if (op == "instance_norm") {
    // instance_norm(input, weight, bias, running_mean, running_var,
    // use_input_stats, momentum, eps, cudnn_enabled): each (sample,
    // channel) normalized by its own statistics.
    if (!boolOf(node->input(5)))
      fail("instance_norm with running statistics (track_running_stats in "
           "evaluation mode) is not supported; use the batch's statistics");
    if (!isNone(node->input(3)) || !isNone(node->input(4)))
      fail("instance_norm that updates running statistics "
           "(track_running_stats=True) is not supported");
    Value x = tensorOf(node->input(0));
    Value y = groupNormalize(x, shapeOf(x).size() < 2 ? 1 : shapeOf(x)[1],
                             static_cast<float>(floatOf(node->input(7))));
    n.result(channelAffine(y, node->input(1), node->input(2)));
    return;
  }
  if (op == "prelu") {
    // r + (a * x - a * r) with r = relu(x), as leaky_relu with a learned
    // slope per channel (or one for all): x for x > 0, a * x otherwise.
    Value x = tensorOf(node->input(0)), slope = tensorOf(node->input(1));
    int64_t rank = shapeOf(x).size();
    if (shapeOf(slope).size() != 1)
      fail("prelu needs a 1-d weight");
    int64_t slopes = shapeOf(slope)[0];
    if (slopes != 1 && (rank < 2 || shapeOf(x)[1] != slopes))
      fail("prelu has " + llvm::Twine(slopes) +
           " slopes; the input needs 1 or that many channels");
    Value a = slopes == 1 ? reshape(slope, SmallVector<int64_t>(rank, 1))
                          : channelVector(slope, rank);
    Value positive = clamp(x, 0.0f, kInf);
    n.result(add(positive, sub(mul(x, a), mul(positive, a))));
    return;
  }
  if (op == "pad" || op == "constant_pad_nd") {
    // pad(input, pad, mode, value?) and constant_pad_nd(input, pad, value)
    std::string mode = "constant";
    float value = 0.0f;
    if (op == "pad") {
      mode = constantOf(node->input(2)).toStringRef();
      if (!isNone(node->input(3)))
        value = static_cast<float>(floatOf(node->input(3)));
    } else {
      value = static_cast<float>(floatOf(node->input(2)));
    }
    n.result(padByMode(tensorOf(node->input(0)), intsOf(node->input(1)), mode,
                       value));
    return;
  }
  if (op.starts_with("reflection_pad") || op.starts_with("replication_pad")) {
    n.result(padByMode(tensorOf(node->input(0)), intsOf(node->input(1)),
                       op.starts_with("reflection") ? "reflect" : "replicate",
                       0.0f));
    return;
  }
  if (op == "upsample_bilinear2d") {
    // upsample_bilinear2d(input, output_size?, align_corners,
    // scale_factors?)
    Value x = tensorOf(node->input(0));
    SmallVector<int64_t> in(shapeOf(x));
    if (in.size() != 4)
      fail("upsample_bilinear2d needs an N x C x H x W input");
    int64_t outH, outW;
    std::optional<double> scaleH, scaleW;
    if (!isNone(node->input(1))) {
      std::vector<int64_t> size = intsOf(node->input(1));
      if (size.size() != 2)
        fail("upsample_bilinear2d needs an output size of 2 values");
      outH = size[0];
      outW = size[1];
    } else {
      std::vector<double> scales = floatsOf(node->input(3));
      if (scales.size() != 2)
        fail("upsample_bilinear2d needs an output size or 2 scale factors");
      outH = static_cast<int64_t>(std::floor(in[2] * scales[0]));
      outW = static_cast<int64_t>(std::floor(in[3] * scales[1]));
      scaleH = scales[0];
      scaleW = scales[1];
    }
    if (outH < 1 || outW < 1)
      fail("upsample_bilinear2d output would be empty");
    n.result(bilinearUpsample(x, outH, outW, boolOf(node->input(2)), scaleH,
                              scaleW));
    return;
  }
  fail("unsupported op '" + op.str() + "'");
}

} // namespace mlir::qat::torch_import
