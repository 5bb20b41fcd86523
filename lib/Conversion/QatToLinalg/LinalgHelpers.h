//===- LinalgHelpers.h - building blocks of the qat lowerings ---*- C++ -*-===//
//
// Part of qat-mlir. Private to lib/Conversion/QatToLinalg: constants, empty
// tensors, elementwise generics and PyTorch's quantization arithmetic, shared
// by the lowerings of each op family.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_CONVERSION_QATTOLINALG_LINALGHELPERS_H
#define QAT_LIB_CONVERSION_QATTOLINALG_LINALGHELPERS_H

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace mlir::qat::to_linalg {

Value f32Constant(OpBuilder &b, Location loc, float value);
Value i32Constant(OpBuilder &b, Location loc, int32_t value);

/// An uninitialized tensor of `shape`'s dimensions (static or taken from
/// `like`) with `elementType`.
Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type, Value like,
                  ArrayRef<int64_t> likeDims);
/// The tensor that `value`'s shape has, with `elementType`.
Value emptyLike(OpBuilder &b, Location loc, Value value, Type elementType);
/// A per-tensor or per-axis parameter (or observer state) of `paramType`,
/// shaped like the parameters of an op on `input`, filled with `value`.
Value filledParam(OpBuilder &b, Location loc, RankedTensorType paramType,
                  Value input, std::optional<int64_t> axis, float value);
/// Maps the iteration space of a rank-`rank` input to its per-tensor (no
/// axis: a 0-d parameter) or per-axis (d_axis) parameter.
AffineMap paramMap(MLIRContext *ctx, int64_t rank, std::optional<int64_t> axis);
/// An elementwise linalg.generic over operands of one shape.
SmallVector<Value>
elementwise(OpBuilder &b, Location loc, ValueRange inputs, ValueRange inits,
            function_ref<void(OpBuilder &, Location, ValueRange)> body);

/// 1.0f / scale, element by element (PyTorch's `inv_scale`).
Value inverseScale(OpBuilder &b, Location loc, Value scale);
/// The integer level of x before clamping, as an f32 computed in PyTorch's
/// order: round_half_even(x * inv_scale) + float(zero_point).
Value quantizedLevel(OpBuilder &b, Location loc, Value x, Value invScale,
                     Value zeroPointF);
/// The level clamped to [qmin, qmax] in f32. PyTorch casts the level to
/// int64_t: NaN and values of 2^63 or more become INT64_MIN on x86, which
/// the clamp sends to qmin; so do they here.
Value clampLevel(OpBuilder &b, Location loc, Value level, float qmin,
                 float qmax);

} // namespace mlir::qat::to_linalg

#endif // QAT_LIB_CONVERSION_QATTOLINALG_LINALGHELPERS_H
