//===- IntegerLayer.h - quantized layers as integer arithmetic --*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Dialect/Qat/Transforms: how
// --qat-target-exact and --qat-fold-quant find a quantized layer in a
// prepared graph and build the integer arithmetic that deployment runs.
// Both passes build it with this one function, so trained and deployed
// models compute the same integers by construction.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_DIALECT_QAT_TRANSFORMS_INTEGERLAYER_H
#define QAT_LIB_DIALECT_QAT_TRANSFORMS_INTEGERLAYER_H

#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace mlir::qat {

/// A convolution or linear layer between fake quantizations, as
/// --qat-prepare leaves it once batch norm is folded:
///
///   fake_quant(x) -> [pad 0 | max pool | reshape | straight_through]*
///     -> layer(., [reshape | transpose]*(fake_quant(W))) -> [+ bias]
///     -> [clamp] -> fake_quant
struct QuantizedLayer {
  Operation *layer = nullptr; // linalg.conv_2d_nchw_fchw or tosa.matmul
  FakeQuantOp inputQuant;     // per tensor; its codes reach the layer
  FakeQuantOp weightQuant;    // per tensor or per output channel (axis 0)
  Value bias;                 // f32, 1 x C x 1 ..., or null
  tosa::ClampOp clamp;        // fused ReLU/ReLU6, or null
  FakeQuantOp outputQuant;    // per tensor
};

/// Whether `op` moves quantized values without changing them, so that the
/// codes of its result are the codes of its input (operand 0): padding with
/// 0.0 (whose code is the zero-point), max pooling (monotone), reshapes.
bool movesCodes(Operation *op);

/// The layer whose output `outputQuant` quantizes, if the graph has the
/// form above; every value between the layer and `outputQuant` has one use.
std::optional<QuantizedLayer> matchQuantizedLayer(FakeQuantOp outputQuant);

/// The layer in integers, built before `layer.outputQuant`:
///
///   x   = quantize(layer input) - z_x             (i32 codes, centered)
///   w   = quantize(W) - z_w                       (per tensor or channel)
///   acc = layer(x, w) + quantize(bias, s_x * s_w, 0) into i32
///   q   = requantize(acc, (s_x * s_w) * (1 / s_y), z_y, lo, hi)
///
/// with lo/hi the output grid narrowed by the clamp's bounds quantized on
/// the output grid. Returns the codes `q` (i32, the layer output's shape).
Value buildIntegerLayer(OpBuilder &b, QuantizedLayer layer);

} // namespace mlir::qat

#endif // QAT_LIB_DIALECT_QAT_TRANSFORMS_INTEGERLAYER_H
