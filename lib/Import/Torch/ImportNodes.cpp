//===- ImportNodes.cpp - TorchScript nodes ----------------------*- C++ -*-===//
//
// Part of qat-mlir. The dispatch over TorchScript node kinds: structure
// (constants, attributes, control flow evaluated at import time), scalar
// arithmetic, then a table of tensor-op families, each with its importer;
// and source locations. A new op goes into its family's importer and the
// table.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include <functional>
#include <numeric>

using namespace mlir;
using namespace mlir::qat;

namespace mlir::qat::torch_import {

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
    if (it == values.end() || it->second.isTensor() ||
        !it->second.list.empty() || !it->second.tensorList.empty())
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
  // Tracing records `size // n` as floor_divide of a size (an int here) by
  // a one-element constant tensor: fold it as floordiv.
  if (name == "aten::floor_divide" && node->inputs().size() == 2) {
    auto asNumber = [&](jit::Value *value) -> std::optional<int64_t> {
      const c10::IValue *v = constantOrNull(value);
      if (v && v->isInt())
        return v->toInt();
      if (v && v->isTensor() && v->toTensor().numel() == 1 &&
          !v->toTensor().is_floating_point())
        return v->toTensor().item<int64_t>();
      return std::nullopt;
    };
    std::optional<int64_t> a = asNumber(node->input(0));
    std::optional<int64_t> b = asNumber(node->input(1));
    if (!a || !b)
      return false;
    if (*b == 0)
      fail("floor_divide by zero");
    int64_t quotient = *a / *b;
    if ((*a % *b != 0) && ((*a < 0) != (*b < 0)))
      --quotient;
    bindConstant(out, c10::IValue(quotient));
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
/// diagnostic inside torch.nn says where the model called it, marked with
/// the submodule's path (withModulePath) so that later passes can name the
/// layer.
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
  if (caller)
    location = CallSiteLoc::get(location, *caller);
  return withModulePath(location, modulePathOf(node));
}

/// The dotted path of the submodule a node was inlined from ("" for the
/// model's own forward), e.g. "features.3.conv.0".
std::string modulePathOf(jit::Node *node) {
  auto callStack = node->callstack();
  if (!callStack)
    return "";
  std::vector<std::string> names;
  for (const jit::InlinedCallStackEntry &entry : (*callStack)->vec())
    if (const auto &info = std::get<2>(entry))
      names.push_back(info->instance_name());
  return llvm::join(names, ".");
}

/// Tensor ops by family: the op names (without `aten::` and the in-place
/// `_`) each family's importer handles.
NodeImporter Importer::lookupTensorOp(StringRef op) {
  static const llvm::StringMap<NodeImporter> table = [] {
    llvm::StringMap<NodeImporter> ops;
    auto add = [&](NodeImporter family,
                   std::initializer_list<const char *> names) {
      for (const char *name : names)
        ops[name] = family;
    };
    add(&Importer::importLayer,
        {"_convolution", "conv2d", "_convolution_mode", "linear", "addmm", "mm",
         "matmul", "batch_norm"});
    add(&Importer::importQuantization,
        {"fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine",
         "fused_moving_avg_obs_fake_quant"});
    add(&Importer::importActivation,
        {"relu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "sigmoid",
         "tanh", "silu", "clamp", "clamp_min", "clamp_max", "leaky_relu"});
    add(&Importer::importElementwise,
        {"zeros", "zeros_like", "ones", "ones_like", "sqrt", "exp", "log",
         "add", "sub", "rsub", "mul", "div"});
    add(&Importer::importPooling,
        {"max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"});
    add(&Importer::importReduction, {"mean", "sum", "softmax", "log_softmax"});
    add(&Importer::importShape,
        {"flatten", "view", "reshape", "view_as", "reshape_as", "contiguous",
         "dropout", "feature_dropout", "detach", "clone", "permute",
         "transpose", "t", "cat", "upsample_nearest2d"});
    add(&Importer::importSlicing,
        {"chunk", "split", "split_with_sizes", "slice", "narrow", "select"});
    add(&Importer::importImageOp,
        {"conv_transpose2d", "group_norm", "instance_norm", "prelu", "pad",
         "constant_pad_nd", "reflection_pad1d", "reflection_pad2d",
         "replication_pad1d", "replication_pad2d", "upsample_bilinear2d"});
    add(&Importer::importLoss,
        {"cross_entropy_loss", "mse_loss", "l1_loss", "smooth_l1_loss",
         "binary_cross_entropy_with_logits", "broadcast_tensors"});
    return ops;
  }();
  return table.lookup(op);
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
             it->second.list.empty() && it->second.tensorList.empty() &&
             !it->second.constant.isObject();
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
  if (name == "prim::TupleConstruct") {
    // Several outputs (forward returns a tuple): the items, which the
    // graph's return (or a TupleUnpack) takes apart.
    values[out].list.assign(node->inputs().begin(), node->inputs().end());
    return;
  }
  if (name == "prim::ListUnpack" || name == "prim::TupleUnpack") {
    Imported list = values.lookup(node->input(0));
    size_t count = node->outputs().size();
    if (!list.tensorList.empty()) {
      if (list.tensorList.size() != count)
        fail("unpacking " + llvm::Twine(list.tensorList.size()) +
             " tensors into " + llvm::Twine(count) + " values");
      for (auto [output, tensor] : llvm::zip(node->outputs(), list.tensorList))
        bind(output, tensor);
      return;
    }
    if (!list.list.empty()) {
      if (list.list.size() != count)
        fail("unpacking " + llvm::Twine(list.list.size()) + " values into " +
             llvm::Twine(count));
      for (auto [output, item] : llvm::zip(node->outputs(), list.list))
        values[output] = values.lookup(item);
      return;
    }
    if (!list.constant.isList() && !list.constant.isTuple())
      fail("unpacking something other than a list or tuple");
    std::vector<c10::IValue> items =
        list.constant.isList() ? list.constant.toListRef().vec()
                               : list.constant.toTupleRef().elements().vec();
    if (items.size() != count)
      fail("unpacking " + llvm::Twine(items.size()) + " values into " +
           llvm::Twine(count));
    for (auto [output, item] : llvm::zip(node->outputs(), items))
      bindConstant(output, item);
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

  if (NodeImporter family = lookupTensorOp(op)) {
    (this->*family)({node, op, result});
    return;
  }
  fail("unsupported op '" + kind + "'");
}

/// Layers: convolutions, linear layers, matrix products, batch norm.
void Importer::importLayer(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  auto result = n.result;
  if (op == "_convolution") {
    // _convolution(input, weight, bias, stride, padding, dilation,
    // transposed, output_padding, groups, ...)
    if (boolOf(node->input(6))) {
      result(transposedConvolution(
          tensorOf(node->input(0)), tensorOf(node->input(1)), node->input(2),
          intsOf(node->input(3)), intsOf(node->input(4)),
          intsOf(node->input(7)), intsOf(node->input(5)),
          intOf(node->input(8))));
      return;
    }
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
  if (op == "batch_norm") {
    result(batchNorm(node));
    return;
  }
  fail("unsupported op '" + op.str() + "'");
}

/// Fake quantization and PyTorch's fused observer.
void Importer::importQuantization(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  auto result = n.result;
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
  fail("unsupported op '" + op.str() + "'");
}

/// Activations.
void Importer::importActivation(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  auto result = n.result;
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
  if (op == "clamp" || op == "clamp_min" || op == "clamp_max") {
    // clamp(x, min?, max?), clamp_min(x, min), clamp_max(x, max) with
    // scalar bounds. The gradient passes strictly inside the bounds (as
    // hardtanh's; PyTorch's clamp also passes it at a bound itself).
    Value x = tensorOf(node->input(0));
    auto bound = [&](unsigned index, float none) {
      jit::Value *value = node->input(index);
      if (isNone(value))
        return none;
      if (values.count(value) && values.find(value)->second.isTensor())
        fail("'" + op.str() +
             "' with tensor bounds is not supported (only "
             "numbers)");
      return static_cast<float>(floatOf(value));
    };
    float lo = op == "clamp_max" ? -kInf : bound(1, -kInf);
    float hi = op == "clamp_min"   ? kInf
               : op == "clamp_max" ? bound(1, kInf)
                                   : bound(2, kInf);
    if (!(lo <= hi))
      fail("'" + op.str() + "' with min " + std::to_string(lo) + " above max " +
           std::to_string(hi));
    result(clamp(x, lo, hi));
    return;
  }
  if (op == "leaky_relu") {
    // r + (s * x - s * r) with r = relu(x): exactly x for x > 0 and s * x
    // otherwise (each product is computed once and the difference of
    // equal products is 0), and its gradient is PyTorch's: 1 where x > 0,
    // s elsewhere, at x = 0 too (which fake quantization makes common).
    Value x = tensorOf(node->input(0));
    int64_t rank = shapeOf(x).size();
    Value slope = splat(static_cast<float>(floatOf(node->input(1))), rank);
    Value positive = clamp(x, 0.0f, kInf);
    result(add(positive, sub(mul(x, slope), mul(positive, slope))));
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
  if (op == "silu") {
    // silu(x) = x * sigmoid(x).
    Value x = tensorOf(node->input(0));
    result(mul(x, tosa::SigmoidOp::create(builder, loc, x.getType(), x)));
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
  fail("unsupported op '" + op.str() + "'");
}

/// Elementwise arithmetic and constant tensors.
void Importer::importElementwise(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  auto result = n.result;
  if (op == "zeros" || op == "zeros_like" || op == "ones" ||
      op == "ones_like") {
    // zeros(size, dtype, layout, device, pin_memory); the QAT Conv+BN
    // modules make their zero bias with it, GAN losses their labels with
    // ones_like / zeros_like.
    bool like = op.ends_with("_like");
    std::vector<int64_t> shape =
        !like ? intsOf(node->input(0))
              : std::vector<int64_t>(shapeOf(tensorOf(node->input(0))).begin(),
                                     shapeOf(tensorOf(node->input(0))).end());
    jit::Value *dtype = node->input(1);
    if (!isNone(dtype) && intOf(dtype) != static_cast<int64_t>(at::kFloat))
      fail("only float32 " + op.str() + " is supported");
    Value filled = zeros(shape);
    if (op.starts_with("ones"))
      filled = add(filled, splat(1.0f, shape.size()));
    result(filled);
    return;
  }
  if (op == "sqrt") {
    // math.sqrt is correctly rounded, as PyTorch's sqrt; tosa has none.
    Value x = tensorOf(node->input(0));
    result(math::SqrtOp::create(builder, loc, x).getResult());
    return;
  }
  if (op == "exp" || op == "log") {
    Value x = tensorOf(node->input(0));
    result(op == "exp"
               ? tosa::ExpOp::create(builder, loc, x.getType(), x).getResult()
               : tosa::LogOp::create(builder, loc, x.getType(), x).getResult());
    return;
  }
  if (op == "add" || op == "sub" || op == "rsub" || op == "mul" ||
      op == "div") {
    result(binaryArith(node, op));
    return;
  }
  fail("unsupported op '" + op.str() + "'");
}

/// Pooling.
void Importer::importPooling(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  auto result = n.result;
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
  fail("unsupported op '" + op.str() + "'");
}

/// Reductions over dimensions: mean, (log-)softmax.
void Importer::importReduction(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  auto result = n.result;
  if (op == "mean" || op == "sum") {
    // mean/sum(x, dtype) over all dimensions, or (x, dims, keepdim, dtype);
    // an empty dims list also means all (PyTorch's sum(x, [])).
    Value x = tensorOf(node->input(0));
    std::vector<int64_t> dims;
    bool keepDim = false;
    if (node->inputs().size() >= 3) {
      dims = intsOf(node->input(1));
      keepDim = boolOf(node->input(2));
    }
    if (dims.empty())
      for (int64_t dim = 0; dim < static_cast<int64_t>(shapeOf(x).size());
           ++dim)
        dims.push_back(dim);
    result(reduce(x, dims, keepDim, /*average=*/op == "mean"));
    return;
  }
  if (op == "softmax" || op == "log_softmax") {
    result(softmax(tensorOf(node->input(0)), intOf(node->input(1)),
                   op == "log_softmax"));
    return;
  }
  fail("unsupported op '" + op.str() + "'");
}

/// Shapes, copies and dropout.
void Importer::importShape(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  auto result = n.result;
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
  if (op == "upsample_nearest2d") {
    // upsample_nearest2d(x, output_size?, scale_factors?), integer scales
    // only: each value repeated s_h x s_w times, as x viewed
    // tiles (tosa.tile: its gradient sums each block, as PyTorch's; it
    // moves codes, so a quantized upsampling stays integer).
    Value x = tensorOf(node->input(0));
    SmallVector<int64_t> in(shapeOf(x));
    if (in.size() != 4)
      fail("upsample_nearest2d needs an N x C x H x W input");
    SmallVector<int64_t> outShape(in);
    if (!isNone(node->input(1))) {
      std::vector<int64_t> size = intsOf(node->input(1));
      if (size.size() != 2)
        fail("upsample_nearest2d needs an output size of 2 values");
      outShape[2] = size[0];
      outShape[3] = size[1];
    } else {
      std::vector<double> scales = floatsOf(node->input(2));
      if (scales.size() != 2)
        fail("upsample_nearest2d needs an output size or 2 scale factors");
      // PyTorch's output size: floor(size * scale).
      for (int64_t dim : {2, 3})
        outShape[dim] =
            static_cast<int64_t>(std::floor(in[dim] * scales[dim - 2]));
    }
    if (outShape[2] % in[2] != 0 || outShape[3] % in[3] != 0 ||
        outShape[2] < in[2] || outShape[3] < in[3])
      fail("upsample_nearest2d from " + std::to_string(in[2]) + "x" +
           std::to_string(in[3]) + " to " + std::to_string(outShape[2]) + "x" +
           std::to_string(outShape[3]) +
           " is not an integer upscaling, which is all that is supported");
    int64_t sh = outShape[2] / in[2], sw = outShape[3] / in[3];
    // Width, then height, in ranks of at most 4 (TOSA's level limit).
    ImplicitLocOpBuilder implicit(loc, builder);
    auto tile = [&](Value value, ArrayRef<int64_t> multiples) -> Value {
      SmallVector<int64_t> shape;
      for (auto [size, times] : llvm::zip(shapeOf(value), multiples))
        shape.push_back(size * times);
      return tosa::TileOp::create(builder, loc, f32(shape), value,
                                  tosa::getTosaConstShape(implicit, multiples));
    };
    int64_t rows = in[0] * in[1] * in[2];
    Value wide = tile(reshape(x, {rows, in[3], 1}), {1, 1, sw});
    Value tall = tile(reshape(wide, {in[0] * in[1], in[2], 1, in[3] * sw}),
                      {1, 1, sh, 1});
    result(reshape(tall, {in[0], in[1], in[2] * sh, in[3] * sw}));
    return;
  }
  if (op == "view_as" || op == "reshape_as") {
    Value x = tensorOf(node->input(0));
    ArrayRef<int64_t> shape = shapeOf(tensorOf(node->input(1)));
    auto elements = [](ArrayRef<int64_t> sizes) {
      return std::accumulate(sizes.begin(), sizes.end(), int64_t(1),
                             std::multiplies<int64_t>());
    };
    if (elements(shapeOf(x)) != elements(shape))
      fail(op.str() + " changes the number of elements");
    result(reshape(x, shape));
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
    // A traced model keeps the mode it was traced in as a constant: an
    // evaluation-mode import drops dropout whatever that constant says.
    bool isDropout = op == "dropout" || op == "feature_dropout";
    bool training = isDropout && options.trainingMode && boolOf(node->input(2));
    if (op == "dropout" && training) {
      // Training-mode dropout: random numbers from forward's rng_seed
      // argument, a separate stream per dropout.
      float probability = static_cast<float>(floatOf(node->input(1)));
      Value input = tensorOf(node->input(0));
      result(DropoutOp::create(builder, loc, input.getType(), input, rngSeed(),
                               dropoutCount++, llvm::APFloat(probability)));
      return;
    }
    if (op == "feature_dropout" && training)
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
    if (it == values.end() ||
        (it->second.list.empty() && it->second.tensorList.empty()))
      fail("cat needs a list of tensors");
    SmallVector<Value> inputs(it->second.tensorList);
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
  fail("unsupported op '" + op.str() + "'");
}

/// Slicing: chunk and split (lists of tensors, unpacked by
/// prim::ListUnpack), slice, narrow and select.
void Importer::importSlicing(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  Value x = tensorOf(node->input(0));
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t rank = shape.size();
  auto dimension = [&](jit::Value *value) {
    int64_t dim = intOf(value);
    if (dim < 0)
      dim += rank;
    if (dim < 0 || dim >= rank)
      fail(op + " dimension " + llvm::Twine(intOf(value)) +
           " is out of range for a rank-" + llvm::Twine(rank) + " tensor");
    return dim;
  };
  if (op == "chunk" || op == "split" || op == "split_with_sizes") {
    int64_t dim = dimension(node->input(2));
    int64_t extent = shape[dim];
    // The sizes of the pieces, as PyTorch cuts them: chunk(c) takes
    // ceil(extent / c) per piece, split(s) s per piece, the last piece
    // shorter.
    std::vector<int64_t> sizes;
    const c10::IValue &how = constantOf(node->input(1));
    if (how.isIntList() || op == "split_with_sizes") {
      sizes = intsOf(node->input(1));
    } else {
      int64_t count = intOf(node->input(1));
      if (count <= 0)
        fail(op + " needs a positive " +
             (op == "chunk" ? "number of chunks" : "split size"));
      int64_t piece = op == "chunk" ? (extent + count - 1) / count : count;
      for (int64_t start = 0; start < extent; start += piece)
        sizes.push_back(std::min(piece, extent - start));
      if (sizes.empty())
        sizes.push_back(0);
    }
    int64_t start = 0;
    SmallVector<Value> pieces;
    for (int64_t size : sizes) {
      if (size < 0 || start + size > extent)
        fail(op + " sizes do not add up to the dimension's " +
             llvm::Twine(extent));
      pieces.push_back(slice(x, dim, start, size));
      start += size;
    }
    if (start != extent)
      fail(op + " sizes do not add up to the dimension's " +
           llvm::Twine(extent));
    values[node->output(0)].tensorList = std::move(pieces);
    return;
  }
  if (op == "slice") {
    // slice(x, dim, start, end, step); start and end may be None and are
    // clamped to the dimension as in Python.
    int64_t dim = dimension(node->input(1)), extent = shape[dim];
    auto bound = [&](jit::Value *value, int64_t none) {
      int64_t v = isNone(value) ? none : intOf(value);
      if (v < 0)
        v += extent;
      return std::clamp<int64_t>(v, 0, extent);
    };
    int64_t start = bound(node->input(2), 0);
    int64_t end = std::max(start, bound(node->input(3), extent));
    int64_t step = intOf(node->input(4));
    if (step <= 0)
      fail("slice step must be positive");
    n.result(slice(x, dim, start, (end - start + step - 1) / step, step));
    return;
  }
  if (op == "narrow") {
    int64_t dim = dimension(node->input(1)), extent = shape[dim];
    int64_t start = intOf(node->input(2)), length = intOf(node->input(3));
    if (start < 0)
      start += extent;
    if (start < 0 || length < 0 || start + length > extent)
      fail("narrow(" + llvm::Twine(start) + ", " + llvm::Twine(length) +
           ") is out of range for a dimension of " + llvm::Twine(extent));
    n.result(slice(x, dim, start, length));
    return;
  }
  // select(x, dim, index): the slice without its dimension.
  int64_t dim = dimension(node->input(1)), extent = shape[dim];
  int64_t index = intOf(node->input(2));
  if (index < 0)
    index += extent;
  if (index < 0 || index >= extent)
    fail("select index " + llvm::Twine(intOf(node->input(2))) +
         " is out of range for a dimension of " + llvm::Twine(extent));
  SmallVector<int64_t> reduced(shape);
  reduced.erase(reduced.begin() + dim);
  n.result(reshape(slice(x, dim, index, 1), reduced));
}

} // namespace mlir::qat::torch_import
