//===- IntegerLayer.cpp - quantized layers as integer arithmetic ----------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "IntegerLayer.h"
#include "LayerUtils.h"
#include "qat/Dialect/Qat/Gradients/GradientUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::gradients;

namespace {

/// What `op` carries codes from: operand 0 of a code mover, or the
/// surrogate of a target-exact layer (its value is the dequantized codes of
/// the surrogate's fake quantization).
Value structuralSource(Operation *op) {
  if (movesCodes(op))
    return op->getOperand(0);
  if (auto straight = dyn_cast<StraightThroughOp>(op))
    return straight.getSurrogate();
  return {};
}

/// The per-tensor fake quantization whose codes `value` carries.
FakeQuantOp inputQuantOf(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (auto quant = dyn_cast<FakeQuantOp>(def))
      return quant.getAxis() ? FakeQuantOp() : quant;
    value = structuralSource(def);
    if (!value)
      return {};
  }
  return {};
}

RankedTensorType withElementType(Value value, Type elementType) {
  return typeOf(value).clone(elementType);
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

Value i32Scalar(OpBuilder &b, Location loc, int64_t value) {
  auto type = RankedTensorType::get({}, b.getI32Type());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, static_cast<int32_t>(value)));
}

/// The code of the f32 `bound` on `quant`'s grid (a clamp's bound), or
/// `fallback` when the bound is infinite.
Value boundCode(OpBuilder &b, Location loc, FakeQuantOp quant, APFloat bound,
                int64_t fallback) {
  if (bound.isInfinity())
    return i32Scalar(b, loc, fallback);
  auto type = RankedTensorType::get({}, b.getF32Type());
  Value value = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, bound.convertToFloat()));
  return QuantizeOp::create(b, loc, RankedTensorType::get({}, b.getI32Type()),
                            value, quant.getScale(), quant.getZeroPoint(),
                            quant.getStorageType(), quant.getQuantMin(),
                            quant.getQuantMax(), IntegerAttr());
}

/// quantize(value) - zero_point on `quant`'s grid, in i32.
Value centeredCodes(OpBuilder &b, Location loc, Value value,
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

} // namespace

bool mlir::qat::movesCodes(Operation *op) {
  if (auto pad = dyn_cast<tensor::PadOp>(op)) {
    Value padding = pad.getConstantPaddingValue();
    return padding && matchPattern(padding, m_AnyZeroFloat());
  }
  return isa<linalg::PoolingNchwMaxOp, tosa::ReshapeOp, tensor::ExpandShapeOp,
             tensor::CollapseShapeOp>(op);
}

std::optional<QuantizedLayer>
mlir::qat::matchQuantizedLayer(FakeQuantOp outputQuant) {
  QuantizedLayer match;
  match.outputQuant = outputQuant;
  if (outputQuant.getAxis())
    return std::nullopt;
  Value value = outputQuant.getInput();
  if (auto clamp = value.getDefiningOp<tosa::ClampOp>();
      clamp && clamp.getInput().hasOneUse()) {
    match.clamp = clamp;
    value = clamp.getInput();
  }
  // The layer op whose output (in the model's layout) is `v`.
  auto layerOf = [](Value v) -> Operation * {
    Operation *def = v.getDefiningOp();
    if (def && isa<tosa::ReshapeOp>(def))
      if (Operation *inner = def->getOperand(0).getDefiningOp();
          inner && isa<tosa::MatMulOp>(inner) && layerOutput(inner) == v)
        def = inner;
    if (!def || !isa<linalg::Conv2DNchwFchwOp, tosa::MatMulOp>(def) ||
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
  if (!match.weightQuant || match.weightQuant.getAxis().value_or(0) != 0)
    return std::nullopt;
  match.inputQuant = inputQuantOf(def->getOperand(0));
  if (!match.inputQuant)
    return std::nullopt;
  return match;
}

Value mlir::qat::buildIntegerLayer(OpBuilder &b, QuantizedLayer layer) {
  Location loc = layer.outputQuant.getLoc();
  Type i32 = b.getI32Type();
  Operation *op = layer.layer;
  FakeQuantOp in = layer.inputQuant, weight = layer.weightQuant,
              out = layer.outputQuant;

  Value x = centeredCodes(b, loc, op->getOperand(0), in);
  Value w = centeredCodes(b, loc, weight.getInput(), weight);
  w = replayChain(b, weight.getResult(), op->getOperand(1), w);

  RankedTensorType accType = withElementType(op->getResult(0), i32);
  Value init = zeros(b, loc, accType);
  Value acc;
  if (auto conv = dyn_cast<linalg::Conv2DNchwFchwOp>(op))
    acc = linalg::Conv2DNchwFchwOp::create(
              b, loc, TypeRange{accType}, ValueRange{x, w}, ValueRange{init},
              conv.getStridesAttr(), conv.getDilationsAttr())
              .getResult(0);
  else
    acc = linalg::BatchMatmulOp::create(b, loc, TypeRange{accType},
                                        ValueRange{x, w}, ValueRange{init})
              .getResult(0);
  if (Value output = layerOutput(op); output != op->getResult(0)) {
    // The linear layer's reshape of its 3-D matmul result.
    IRMapping mapping;
    mapping.map(op->getResult(0), acc);
    Operation *copy = b.clone(*output.getDefiningOp(), mapping);
    acc = copy->getResult(0);
    acc.setType(withElementType(acc, i32));
  }
  // s_x * s_w: the scale of the accumulator, per tensor or per channel.
  Value accScale = weight.getScale();
  Value inputScale = in.getScale();
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

  Value lo = i32Scalar(b, loc, out.getQuantMin());
  Value hi = i32Scalar(b, loc, out.getQuantMax());
  if (layer.clamp) {
    auto bound = [&](Attribute attr) {
      return cast<FloatAttr>(attr).getValue();
    };
    lo = boundCode(b, loc, out, bound(layer.clamp.getMinValAttr()),
                   out.getQuantMin());
    hi = boundCode(b, loc, out, bound(layer.clamp.getMaxValAttr()),
                   out.getQuantMax());
  }
  return RequantizeOp::create(
      b, loc, typeOf(acc), acc, multiplier, out.getZeroPoint(), lo, hi,
      channelAxis ? b.getI64IntegerAttr(*channelAxis) : IntegerAttr());
}
