//===- IntegerForms.h - quantized computations in integers ------*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Dialect/Qat/Transforms: how
// --qat-target-exact and --qat-fold-quant find the quantized computations
// of a prepared graph (convolution and linear layers, residual additions)
// and build the integer arithmetic that deployment runs. Both passes build
// it with these functions, so trained and deployed models compute the same
// integers by construction.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_DIALECT_QAT_TRANSFORMS_INTEGERFORMS_H
#define QAT_LIB_DIALECT_QAT_TRANSFORMS_INTEGERFORMS_H

#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Builders.h"

#include <optional>
#include <variant>

namespace mlir::qat {

/// A value that carries the codes of a per-tensor fake quantization,
/// moved on the way by `chain`: padding with 0.0 (the zero-point's code),
/// max pooling, sum pooling, multiplication by a positive constant (sum
/// pooling and 1/n make average pooling) and reshapes.
struct QuantizedInput {
  Value source;      // the fake_quant's (or target-exact layer's) result
  FakeQuantOp quant; // the grid of `source`
  SmallVector<Operation *> chain; // from `source` to the value, in order
};

/// A convolution (plain, grouped or depthwise) or linear layer between
/// fake quantizations, as --qat-prepare leaves it once batch norm is
/// folded:
///
///   input -> layer(., [reshape | transpose]*(fake_quant(W))) -> [+ bias]
///     -> [clamp] -> fake_quant
struct QuantizedLayer {
  Operation *layer = nullptr; // linalg convolution or tosa.matmul
  QuantizedInput input;
  FakeQuantOp weightQuant; // per tensor or per output channel (axis 0)
  Value bias;              // f32, 1 x C x 1 ..., or null
  tosa::ClampOp clamp;     // fused ReLU/ReLU6, or null
  FakeQuantOp outputQuant; // per tensor
};

/// A residual addition of two quantized values: lhs + rhs -> [clamp] ->
/// fake_quant.
struct QuantizedAdd {
  tosa::AddOp add;
  QuantizedInput lhs, rhs;
  tosa::ClampOp clamp;
  FakeQuantOp outputQuant;
};

using IntegerForm = std::variant<QuantizedLayer, QuantizedAdd>;

/// Whether `op` moves quantized values without changing them, so that the
/// codes of its result are the codes of its input (operand 0): padding with
/// 0.0 (whose code is the zero-point) or with -inf for max pooling, max
/// pooling (monotone), reshapes, transposes and slices.
bool movesCodes(Operation *op);

/// The i32 `codes` moved through `op` (a code mover or sum pooling) as `op`
/// moved their dequantized values; padding with 0.0 uses the code
/// `zeroPoint`, padding with -inf for max pooling the code `quantMin`.
Value moveCodes(OpBuilder &b, Operation *op, Value codes, Value zeroPoint,
                int64_t quantMin);

/// Whether `value` reaches a per-tensor fake quantization through code
/// movers, sum pooling and constant factors: a layer reading it has an
/// integer input.
bool hasQuantizedInput(Value value);

/// The computation that `outputQuant` quantizes, if it has an integer
/// form; every value between its inputs and `outputQuant` has one use.
std::optional<IntegerForm> matchIntegerForm(FakeQuantOp outputQuant);

/// The computation in integers, built at `b`'s insertion point. Returns
/// the output codes (i32, the shape of `outputQuant`'s result).
///
/// A layer:
///   x   = moved(quantize(input)) - n * z_x     (n: sum-pooling windows)
///   w   = quantize(W) - z_w                    (per tensor or channel)
///   acc = layer(x, w) + quantize(bias, s, 0) into i32
///   q   = requantize(acc, s * (1 / s_y), z_y, lo, hi)
/// with s = s_x * c * s_w (c: the input's constant factors) and lo/hi the
/// output grid narrowed by the clamp's bounds quantized on the output grid.
///
/// An addition (TFLite's form; |intermediate| < 2^28, so no i32 overflow):
///   a, b   = moved(quantize(input)) - n * z    for each input
///   s2     = 2 * max(s_a, s_b)
///   r      = requantize(a * 2^20, s_a * (1 / s2), 0)
///          + requantize(b * 2^20, s_b * (1 / s2), 0)
///   q      = requantize(r, s2 * (1 / s_y) * 2^-20, z_y, lo, hi)
Value buildIntegerForm(OpBuilder &b, const IntegerForm &form);

/// Every computation under `root` with an integer form outputs it through
/// `qat.straight_through(dequantize(codes), fake_quant(float result))`:
/// the integer value, the float computation's gradient and observers
/// (--qat-target-exact; --qat-fold-quant then keeps only the integers).
void makeTargetExact(Operation *root);

} // namespace mlir::qat

#endif // QAT_LIB_DIALECT_QAT_TRANSFORMS_INTEGERFORMS_H
