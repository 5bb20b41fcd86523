//===- TosaBuilders.h - tosa and linalg building blocks ---------*- C++ -*-===//
//
// Part of qat-mlir. The tensor arithmetic that gradient rules, the QAT
// passes (--qat-prepare, --qat-fold-batchnorm, --qat-fold-quant), the
// optimizer and the importer build: tosa ops with the broadcasting and
// result types filled in, and the linalg contractions of gradients.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_UTILS_TOSABUILDERS_H
#define QAT_DIALECT_QAT_UTILS_TOSABUILDERS_H

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::qat::builders {

inline RankedTensorType typeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// A tosa.const f32 splat of rank `rank` with every dimension 1, which tosa
/// elementwise ops broadcast.
Value scalar(OpBuilder &b, Location loc, float value, int64_t rank);
/// A zero-filled f32 tensor of `type`.
Value zeros(OpBuilder &b, Location loc, RankedTensorType type);

/// tosa elementwise arithmetic with broadcasting; the result has the
/// broadcast shape.
Value add(OpBuilder &b, Location loc, Value lhs, Value rhs);
Value sub(OpBuilder &b, Location loc, Value lhs, Value rhs);
Value mul(OpBuilder &b, Location loc, Value lhs, Value rhs);
/// `ifTrue` where `condition` (i1) holds, else 0.
Value selectOrZero(OpBuilder &b, Location loc, Value condition, Value ifTrue);

/// The gradient of a broadcast operand: `gradient` summed over the
/// dimensions where `target` has size 1 and `gradient` does not.
Value sumToShape(OpBuilder &b, Location loc, Value gradient,
                 RankedTensorType target);
/// `value` repeated along its size-1 dimensions to `target`'s shape.
Value broadcastTo(OpBuilder &b, Location loc, Value value,
                  RankedTensorType target);
/// tosa.reshape of `value` to `shape`.
Value reshape(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> shape);

/// A linalg.generic over `numLoops` loops that sums the product of the
/// first `numFactors` of `inputs` (each read through its map in
/// `inputMaps`) into a zero tensor of `resultType` read and written through
/// `resultMap`; the remaining inputs only give loop extents. Loops that are
/// a plain result of `resultMap` are parallel, all others reductions. The
/// result map may combine loops (`oh * stride + kh`): each product is then
/// added to the element it names, which is how input gradients of
/// convolutions and pooling scatter back into their windows.
Value contract(OpBuilder &b, Location loc, ValueRange inputs,
               ArrayRef<AffineMap> inputMaps, unsigned numFactors,
               RankedTensorType resultType, AffineMap resultMap);

/// Whether `op` is a linalg op with two inputs and one init whose body is
/// `out + in0 * in1` in floating point (either order): what `contract`
/// builds with two factors, and what convolutions and matmuls compute.
bool isMulAdd(Operation *op);

/// A C-vector reshaped to 1 x C x 1 ... of rank `rank`, which broadcasts
/// along dimension 1 of an N x C x ... tensor.
Value channelVector(OpBuilder &b, Location loc, Value vector, int64_t rank);

} // namespace mlir::qat::builders

#endif // QAT_DIALECT_QAT_UTILS_TOSABUILDERS_H
