//===- IntegerForms.cpp - quantized computations as integer arithmetic ----===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "IntegerForms.h"
#include "qat/Dialect/Qat/Utils/LayerUtils.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

#include <climits>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;

namespace {

/// Bits that a residual addition shifts its centered codes left by before
/// rescaling them to a common scale (TFLite's choice for 8-bit inputs):
/// |code - z| <= 255 < 2^8, so the shifted values stay below 2^28.
constexpr int kAddShift = 20;

RankedTensorType withElementType(Value value, Type elementType) {
  return typeOf(value).clone(elementType);
}

Value i32Scalar(OpBuilder &b, Location loc, int64_t value) {
  auto type = RankedTensorType::get({}, b.getI32Type());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, static_cast<int32_t>(value)));
}

Value f32Scalar(OpBuilder &b, Location loc, float value) {
  auto type = RankedTensorType::get({}, b.getF32Type());
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, value));
}

/// The positive constant that a tosa.mul multiplies its other operand by,
/// with that operand's index (average pooling's 1/n), if it is one.
std::optional<std::pair<unsigned, float>> constantFactor(Operation *op) {
  auto mulOp = dyn_cast<tosa::MulOp>(op);
  if (!mulOp)
    return std::nullopt;
  for (unsigned index : {0u, 1u}) {
    DenseFPElementsAttr factor;
    Value data = mulOp->getOperand(1 - index);
    if (matchPattern(mulOp->getOperand(index), m_Constant(&factor)) &&
        factor.isSplat() && typeOf(data) == typeOf(mulOp.getResult())) {
      float value = factor.getSplatValue<APFloat>().convertToFloat();
      if (value > 0 && std::isfinite(value))
        return std::pair{1 - index, value};
    }
  }
  return std::nullopt;
}

/// The operand whose codes `op` carries on (with sum pooling and constant
/// factors, up to the factor), or null.
Value codeOperand(Operation *op) {
  if (movesCodes(op))
    return op->getOperand(0);
  if (auto pool = dyn_cast<linalg::PoolingNchwSumOp>(op))
    return pool.getInputs()[0];
  if (std::optional<std::pair<unsigned, float>> factor = constantFactor(op))
    return op->getOperand(factor->first);
  return {};
}

int64_t windowSize(linalg::PoolingNchwSumOp pool) {
  return typeOf(pool.getInputs()[1]).getNumElements();
}

/// `value` as a QuantizedInput, walking back through code movers, sum
/// pooling and constant factors to a per-tensor fake quantization or a
/// target-exact layer (whose value is the dequantized codes of its
/// surrogate's fake quantization).
std::optional<QuantizedInput> matchQuantizedInput(Value value) {
  QuantizedInput input;
  bool padsLater = false;
  while (Operation *def = value.getDefiningOp()) {
    FakeQuantOp quant = dyn_cast<FakeQuantOp>(def);
    if (auto straight = dyn_cast<StraightThroughOp>(def)) {
      quant = straight.getSurrogate().getDefiningOp<FakeQuantOp>();
      if (!quant)
        return std::nullopt;
    }
    if (quant) {
      if (quant.getAxis())
        return std::nullopt;
      input.source = value;
      input.quant = quant;
      std::reverse(input.chain.begin(), input.chain.end());
      return input;
    }
    // Padding after a sum pooling would pad sums with a single code.
    if (isa<linalg::PoolingNchwSumOp>(def) && padsLater)
      return std::nullopt;
    padsLater |= isa<tensor::PadOp>(def);
    value = codeOperand(def);
    if (!value)
      return std::nullopt;
    input.chain.push_back(def);
  }
  return std::nullopt;
}

/// A 0-d or 1-d parameter reshaped to rank `rank`, its entries along `axis`
/// (1-d) or all dimensions 1 (0-d), for tosa's broadcasting.
Value alongAxis(OpBuilder &b, Location loc, Value param, int64_t rank,
                int64_t axis) {
  SmallVector<int64_t> shape(rank, 1);
  if (typeOf(param).getRank() == 1)
    shape[axis] = typeOf(param).getDimSize(0);
  return reshape(b, loc, param, shape);
}

/// An input's codes minus its zero-point (times the sum poolings' window
/// sizes), moved as the float graph moved the values, with the scale of
/// those integers (the grid's scale times the constant factors).
std::pair<Value, Value> centeredInput(OpBuilder &b, Location loc,
                                      const QuantizedInput &input) {
  FakeQuantOp quant = input.quant;
  Value codes = QuantizeOp::create(
      b, loc, withElementType(input.source, b.getI32Type()), input.source,
      quant.getScale(), quant.getZeroPoint(), quant.getStorageType(),
      quant.getQuantMin(), quant.getQuantMax(), IntegerAttr());
  int64_t windows = 1;
  Value scale = quant.getScale();
  for (Operation *op : input.chain) {
    codes = moveCodes(b, op, codes, quant.getZeroPoint(), quant.getQuantMin());
    if (auto pool = dyn_cast<linalg::PoolingNchwSumOp>(op))
      windows *= windowSize(pool);
    if (std::optional<std::pair<unsigned, float>> factor = constantFactor(op))
      scale = mul(b, loc, scale, f32Scalar(b, loc, factor->second));
  }
  int64_t rank = typeOf(codes).getRank();
  Value zeroPoint = alongAxis(b, loc, quant.getZeroPoint(), rank, 0);
  if (windows != 1)
    zeroPoint = mul(b, loc, zeroPoint,
                    reshape(b, loc, i32Scalar(b, loc, windows),
                            SmallVector<int64_t>(rank, 1)));
  return {sub(b, loc, codes, zeroPoint), scale};
}

/// The code of the f32 `bound` on `quant`'s grid (a clamp's bound), or
/// `fallback` when the bound is infinite.
Value boundCode(OpBuilder &b, Location loc, FakeQuantOp quant, APFloat bound,
                int64_t fallback) {
  if (bound.isInfinity())
    return i32Scalar(b, loc, fallback);
  Value value = f32Scalar(b, loc, bound.convertToFloat());
  return QuantizeOp::create(b, loc, RankedTensorType::get({}, b.getI32Type()),
                            value, quant.getScale(), quant.getZeroPoint(),
                            quant.getStorageType(), quant.getQuantMin(),
                            quant.getQuantMax(), IntegerAttr());
}

/// The output grid's bounds, narrowed by a fused clamp.
std::pair<Value, Value> outputBounds(OpBuilder &b, Location loc,
                                     FakeQuantOp out, tosa::ClampOp clamp) {
  if (!clamp)
    return {i32Scalar(b, loc, out.getQuantMin()),
            i32Scalar(b, loc, out.getQuantMax())};
  auto bound = [](Attribute attr) { return cast<FloatAttr>(attr).getValue(); };
  return {
      boundCode(b, loc, out, bound(clamp.getMinValAttr()), out.getQuantMin()),
      boundCode(b, loc, out, bound(clamp.getMaxValAttr()), out.getQuantMax())};
}

/// quantize(value) - zero_point on `quant`'s grid (per tensor or channel).
Value centeredWeights(OpBuilder &b, Location loc, Value value,
                      FakeQuantOp quant) {
  Value codes = QuantizeOp::create(
      b, loc, withElementType(value, b.getI32Type()), value, quant.getScale(),
      quant.getZeroPoint(), quant.getStorageType(), quant.getQuantMin(),
      quant.getQuantMax(), quant.getAxisAttr());
  int64_t axis = quant.getAxis().value_or(0);
  return sub(
      b, loc, codes,
      alongAxis(b, loc, quant.getZeroPoint(), typeOf(value).getRank(), axis));
}

/// Replays the reshapes and transposes between `from` and `to` (the
/// weight's fake quantization and the layer operand) on the i32 `codes`.
Value replayChain(OpBuilder &b, Value from, Value to, Value codes) {
  SmallVector<Operation *> chain;
  for (Value value = to; value != from;) {
    Operation *def = value.getDefiningOp();
    chain.push_back(def);
    value = def->getOperand(0);
  }
  for (Operation *op : llvm::reverse(chain)) {
    IRMapping mapping;
    mapping.map(op->getOperand(0), codes);
    Operation *copy = b.clone(*op, mapping);
    codes = copy->getResult(0);
    codes.setType(withElementType(codes, b.getI32Type()));
  }
  return codes;
}

/// Strips an optional clamp (one use) off `value`.
Value stripClamp(Value value, tosa::ClampOp &clamp) {
  if (auto op = value.getDefiningOp<tosa::ClampOp>();
      op && op.getInput().hasOneUse()) {
    clamp = op;
    return op.getInput();
  }
  return value;
}

std::optional<QuantizedLayer> matchQuantizedLayer(FakeQuantOp outputQuant) {
  QuantizedLayer match;
  match.outputQuant = outputQuant;
  Value value = stripClamp(outputQuant.getInput(), match.clamp);
  // The layer op whose output (in the model's layout) is `v`.
  auto layerOf = [](Value v) -> Operation * {
    Operation *def = v.getDefiningOp();
    // The linear layer's reshape of its 3-D matmul result, a grouped
    // convolution's collapse of its groups.
    if (def && isa<tosa::ReshapeOp, tensor::CollapseShapeOp>(def))
      if (Operation *inner = def->getOperand(0).getDefiningOp();
          inner && layerOutput(inner) == v &&
          (isa<tosa::ReshapeOp>(def) ? isa<tosa::MatMulOp>(inner)
                                     : isa<linalg::Conv2DNgchwGfchwOp>(inner)))
        def = inner;
    if (!def ||
        !isa<linalg::Conv2DNchwFchwOp, linalg::Conv2DNgchwGfchwOp,
             tosa::MatMulOp>(def) ||
        layerOutput(def) != v || !v.hasOneUse())
      return nullptr;
    return def;
  };
  if (auto add = value.getDefiningOp<tosa::AddOp>()) {
    for (auto [self, other] : {std::pair{add.getInput1(), add.getInput2()},
                               std::pair{add.getInput2(), add.getInput1()}}) {
      ArrayRef<int64_t> shape = typeOf(other).getShape();
      bool perChannel = shape.size() >= 2 && shape[0] == 1 &&
                        llvm::all_of(shape.drop_front(2),
                                     [](int64_t size) { return size == 1; });
      if (perChannel && layerOf(self)) {
        match.bias = other;
        value = self;
        break;
      }
    }
  }
  Operation *def = layerOf(value);
  if (!def)
    return std::nullopt;
  match.layer = def;
  match.weightQuant = weightUse(def).get().getDefiningOp<FakeQuantOp>();
  if (!match.weightQuant ||
      (match.weightQuant.getAxis() &&
       *match.weightQuant.getAxis() != weightOutputAxis(def)))
    return std::nullopt;
  std::optional<QuantizedInput> input = matchQuantizedInput(def->getOperand(0));
  if (!input)
    return std::nullopt;
  match.input = *input;
  return match;
}

std::optional<QuantizedAdd> matchQuantizedAdd(FakeQuantOp outputQuant) {
  QuantizedAdd match;
  match.outputQuant = outputQuant;
  Value value = stripClamp(outputQuant.getInput(), match.clamp);
  match.add = value.getDefiningOp<tosa::AddOp>();
  if (!match.add || !value.hasOneUse() ||
      typeOf(match.add.getInput1()) != typeOf(value) ||
      typeOf(match.add.getInput2()) != typeOf(value))
    return std::nullopt;
  std::optional<QuantizedInput> lhs =
      matchQuantizedInput(match.add.getInput1());
  std::optional<QuantizedInput> rhs =
      matchQuantizedInput(match.add.getInput2());
  if (!lhs || !rhs)
    return std::nullopt;
  match.lhs = *lhs;
  match.rhs = *rhs;
  return match;
}

Value buildLayer(OpBuilder &b, QuantizedLayer layer) {
  Location loc = layer.outputQuant.getLoc();
  Type i32 = b.getI32Type();
  Operation *op = layer.layer;
  FakeQuantOp weight = layer.weightQuant, out = layer.outputQuant;

  auto [x, inputScale] = centeredInput(b, loc, layer.input);
  Value w = centeredWeights(b, loc, weight.getInput(), weight);
  w = replayChain(b, weight.getResult(), op->getOperand(1), w);

  RankedTensorType accType = withElementType(op->getResult(0), i32);
  Value init = zeros(b, loc, accType);
  Value acc;
  if (auto conv = dyn_cast<linalg::Conv2DNchwFchwOp>(op))
    acc = linalg::Conv2DNchwFchwOp::create(
              b, loc, TypeRange{accType}, ValueRange{x, w}, ValueRange{init},
              conv.getStridesAttr(), conv.getDilationsAttr())
              .getResult(0);
  else if (auto grouped = dyn_cast<linalg::Conv2DNgchwGfchwOp>(op))
    acc = linalg::Conv2DNgchwGfchwOp::create(
              b, loc, TypeRange{accType}, ValueRange{x, w}, ValueRange{init},
              grouped.getStridesAttr(), grouped.getDilationsAttr())
              .getResult(0);
  else
    acc = linalg::BatchMatmulOp::create(b, loc, TypeRange{accType},
                                        ValueRange{x, w}, ValueRange{init})
              .getResult(0);
  if (Value output = layerOutput(op); output != op->getResult(0)) {
    // The linear layer's reshape of its 3-D matmul result, or a grouped
    // convolution's collapse of its groups.
    IRMapping mapping;
    mapping.map(op->getResult(0), acc);
    Operation *copy = b.clone(*output.getDefiningOp(), mapping);
    acc = copy->getResult(0);
    acc.setType(withElementType(acc, i32));
  }
  // s_x * c * s_w: the scale of the accumulator, per tensor or per channel.
  Value accScale = weight.getScale();
  if (typeOf(accScale).getRank() == 1)
    inputScale = reshape(b, loc, inputScale, {1});
  accScale = mul(b, loc, inputScale, accScale);
  std::optional<int64_t> channelAxis;
  if (typeOf(accScale).getRank() == 1)
    channelAxis = 1;

  if (layer.bias) {
    int64_t channels = typeOf(layer.bias).getDimSize(1);
    Value bias = reshape(b, loc, layer.bias, {channels});
    auto zeroType = typeOf(accScale).clone(i32);
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(zeroType, int32_t(0)));
    IntegerAttr biasAxis = channelAxis ? b.getI64IntegerAttr(0) : IntegerAttr();
    Value biasCodes = QuantizeOp::create(
        b, loc, RankedTensorType::get({channels}, i32), bias, accScale, zero,
        TypeAttr::get(b.getIntegerType(32)), b.getI64IntegerAttr(INT32_MIN),
        b.getI64IntegerAttr(INT32_MAX), biasAxis);
    acc = add(b, loc, acc,
              reshape(b, loc, biasCodes, typeOf(layer.bias).getShape()));
  }

  Value outputScale = out.getScale();
  if (typeOf(accScale).getRank() == 1)
    outputScale = reshape(b, loc, outputScale, {1});
  Value multiplier =
      mul(b, loc, accScale,
          tosa::ReciprocalOp::create(b, loc, typeOf(outputScale), outputScale));
  auto [lo, hi] = outputBounds(b, loc, out, layer.clamp);
  return RequantizeOp::create(
      b, loc, typeOf(acc), acc, multiplier, out.getZeroPoint(), lo, hi,
      channelAxis ? b.getI64IntegerAttr(*channelAxis) : IntegerAttr());
}

Value buildAdd(OpBuilder &b, QuantizedAdd sum) {
  Location loc = sum.outputQuant.getLoc();
  FakeQuantOp out = sum.outputQuant;
  auto [lhs, lhsScale] = centeredInput(b, loc, sum.lhs);
  auto [rhs, rhsScale] = centeredInput(b, loc, sum.rhs);
  Value common =
      mul(b, loc,
          tosa::MaximumOp::create(b, loc, typeOf(lhsScale), lhsScale, rhsScale),
          f32Scalar(b, loc, 2.0f));
  Value inverse = tosa::ReciprocalOp::create(b, loc, typeOf(common), common);
  int64_t rank = typeOf(lhs).getRank();
  Value shift = reshape(b, loc, i32Scalar(b, loc, int64_t(1) << kAddShift),
                        SmallVector<int64_t>(rank, 1));
  Value zero = i32Scalar(b, loc, 0);
  Value lowest = i32Scalar(b, loc, INT32_MIN);
  Value highest = i32Scalar(b, loc, INT32_MAX);
  auto rescale = [&](Value codes, Value scale) -> Value {
    return RequantizeOp::create(
        b, loc, typeOf(codes), mul(b, loc, codes, shift),
        mul(b, loc, scale, inverse), zero, lowest, highest, IntegerAttr());
  };
  Value total = add(b, loc, rescale(lhs, lhsScale), rescale(rhs, rhsScale));
  Value multiplier =
      mul(b, loc,
          mul(b, loc, common,
              tosa::ReciprocalOp::create(b, loc, typeOf(out.getScale()),
                                         out.getScale())),
          f32Scalar(b, loc, std::ldexp(1.0f, -kAddShift)));
  auto [lo, hi] = outputBounds(b, loc, out, sum.clamp);
  return RequantizeOp::create(b, loc, typeOf(total), total, multiplier,
                              out.getZeroPoint(), lo, hi, IntegerAttr());
}

} // namespace

/// Whether `pad` pads with -inf for max pooling only: as codes, any code at
/// most the lowest one gives the same maxima (every window of a pooling
/// holds an input entry).
static bool padsForMaxPooling(tensor::PadOp pad) {
  Value padding = pad.getConstantPaddingValue();
  APFloat value(0.0f);
  return padding && matchPattern(padding, m_ConstantFloat(&value)) &&
         value.isInfinity() && value.isNegative() && !pad->use_empty() &&
         llvm::all_of(pad->getUsers(), [&](Operation *user) {
           auto pool = dyn_cast<linalg::PoolingNchwMaxOp>(user);
           return pool && pool.getInputs()[0] == pad.getResult();
         });
}

bool mlir::qat::movesCodes(Operation *op) {
  if (auto pad = dyn_cast<tensor::PadOp>(op)) {
    Value padding = pad.getConstantPaddingValue();
    return (padding && matchPattern(padding, m_AnyZeroFloat())) ||
           padsForMaxPooling(pad);
  }
  return isa<linalg::PoolingNchwMaxOp, tosa::ReshapeOp, tosa::TransposeOp,
             tosa::ReverseOp, tosa::TileOp, tensor::ExpandShapeOp,
             tensor::CollapseShapeOp, tensor::ExtractSliceOp>(op);
}

Value mlir::qat::moveCodes(OpBuilder &b, Operation *op, Value codes,
                           Value zeroPoint, int64_t quantMin) {
  Location loc = op->getLoc();
  Type i32 = b.getI32Type();
  auto resultType = typeOf(op->getResult(0)).clone(i32);
  if (auto pad = dyn_cast<tensor::PadOp>(op)) {
    // 0.0 pads the float tensor; its code is the zero-point. -inf before a
    // max pooling becomes the lowest code.
    Value padCode =
        padsForMaxPooling(pad)
            ? arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(quantMin))
                  .getResult()
            : tensor::ExtractOp::create(b, loc, zeroPoint).getResult();
    return tensor::PadOp::create(b, loc, resultType, codes,
                                 pad.getMixedLowPad(), pad.getMixedHighPad(),
                                 padCode);
  }
  auto pool = [&](auto poolOp, int32_t initial) -> Value {
    using PoolOp = decltype(poolOp);
    Value empty = tensor::EmptyOp::create(b, loc, resultType.getShape(), i32);
    Value fill =
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(initial));
    Value init = linalg::FillOp::create(b, loc, fill, empty).getResult(0);
    return PoolOp::create(b, loc, TypeRange{resultType},
                          ValueRange{codes, poolOp.getInputs()[1]},
                          ValueRange{init}, poolOp.getStridesAttr(),
                          poolOp.getDilationsAttr())
        .getResult(0);
  };
  if (auto maxPool = dyn_cast<linalg::PoolingNchwMaxOp>(op))
    return pool(maxPool, INT32_MIN);
  if (auto sumPool = dyn_cast<linalg::PoolingNchwSumOp>(op))
    return pool(sumPool, 0);
  if (constantFactor(op))
    return codes; // the factor goes into the scale
  IRMapping mapping;
  mapping.map(op->getOperand(0), codes);
  Operation *copy = b.clone(*op, mapping);
  copy->getResult(0).setType(resultType);
  return copy->getResult(0);
}

bool mlir::qat::hasQuantizedInput(Value value) {
  return matchQuantizedInput(value).has_value();
}

std::optional<IntegerForm>
mlir::qat::matchIntegerForm(FakeQuantOp outputQuant) {
  if (outputQuant.getAxis())
    return std::nullopt;
  if (std::optional<QuantizedLayer> layer = matchQuantizedLayer(outputQuant))
    return *layer;
  if (std::optional<QuantizedAdd> sum = matchQuantizedAdd(outputQuant))
    return *sum;
  return std::nullopt;
}

Value mlir::qat::buildIntegerForm(OpBuilder &b, const IntegerForm &form) {
  if (const auto *layer = std::get_if<QuantizedLayer>(&form))
    return buildLayer(b, *layer);
  return buildAdd(b, std::get<QuantizedAdd>(form));
}

void mlir::qat::makeTargetExact(Operation *root) {
  // In program order, so that each computation's inputs are the exact
  // outputs of the ones before it.
  SmallVector<FakeQuantOp> quants;
  root->walk([&](FakeQuantOp quant) { quants.push_back(quant); });
  for (FakeQuantOp output : quants) {
    // A computation made exact before has a straight_through user already.
    bool isExact = llvm::any_of(output->getUsers(), [](Operation *user) {
      return isa<StraightThroughOp>(user);
    });
    std::optional<IntegerForm> form;
    if (!isExact)
      form = matchIntegerForm(output);
    if (!form)
      continue;
    OpBuilder b(output);
    b.setInsertionPointAfter(output);
    Location loc = output.getLoc();
    Value codes = buildIntegerForm(b, *form);
    Value exact =
        DequantizeOp::create(b, loc, output.getType(), codes, output.getScale(),
                             output.getZeroPoint(), IntegerAttr());
    auto straight = StraightThroughOp::create(b, loc, output.getType(), exact,
                                              output.getResult());
    output.getResult().replaceAllUsesExcept(straight, straight);
  }
}
