//===- LayerUtils.cpp - conv and linear layers in imported graphs ---------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Utils/LayerUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"

using namespace mlir;

bool mlir::qat::isLayerOp(Operation *op) {
  // A product with a constant matrix (bilinear upsampling's interpolation)
  // is arithmetic, not a layer with weights.
  if (isa<tosa::MatMulOp>(op))
    return !weightUse(op).get().getDefiningOp<tosa::ConstOp>();
  auto conv = dyn_cast<linalg::ConvolutionOpInterface>(op);
  return conv && llvm::any_of(op->getRegion(0).getOps(), [](Operation &inner) {
           return isa<arith::MulFOp>(inner);
         });
}

OpOperand &mlir::qat::weightUse(Operation *layer) {
  OpOperand *use = &layer->getOpOperand(1);
  while (Operation *def = use->get().getDefiningOp()) {
    if (!isa<tosa::ReshapeOp, tensor::ExpandShapeOp, tosa::TransposeOp,
             tosa::ReverseOp>(def))
      break;
    use = &def->getOpOperand(0);
  }
  return *use;
}

/// The axis of `from`'s operand that holds axis `axis` of its result, for
/// the ops of a weight chain.
static int64_t sourceAxis(Operation *op, int64_t axis) {
  if (auto transpose = dyn_cast<tosa::TransposeOp>(op))
    return transpose.getPerms()[axis];
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    for (auto [index, group] :
         llvm::enumerate(expand.getReassociationIndices()))
      if (llvm::is_contained(group, axis))
        return index;
  }
  if (auto reshape = dyn_cast<tosa::ReshapeOp>(op)) {
    // The input axis of the same size with as many elements before it as
    // before `axis` (reshapes of weights add or drop unit dimensions).
    ArrayRef<int64_t> in =
        cast<ShapedType>(reshape.getInput1().getType()).getShape();
    ArrayRef<int64_t> out = cast<ShapedType>(reshape.getType()).getShape();
    int64_t before = 1;
    for (int64_t size : out.take_front(axis))
      before *= size;
    int64_t seen = 1;
    for (auto [index, size] : llvm::enumerate(in)) {
      if (seen == before && size == out[axis])
        return index;
      seen *= size;
    }
    return 0;
  }
  return axis; // tosa.reverse, and reshapes that keep it in place
}

int64_t mlir::qat::weightOutputAxis(Operation *layer) {
  // The output channels: the filter's first axis (a grouped convolution's
  // group and channel axes come from the parameter's first); the last axis
  // of the matmul's right-hand side.
  int64_t axis =
      isa<tosa::MatMulOp>(layer)
          ? cast<ShapedType>(layer->getOperand(1).getType()).getRank() - 1
          : 0;
  OpOperand *use = &layer->getOpOperand(1);
  OpOperand &weight = weightUse(layer);
  while (use != &weight) {
    Operation *def = use->get().getDefiningOp();
    axis = sourceAxis(def, axis);
    use = &def->getOpOperand(0);
  }
  return axis;
}

Value mlir::qat::layerOutput(Operation *layer) {
  // Only the importer's own reshapes: a matmul's to 2-D, a grouped
  // convolution's collapse (a plain convolution's result is in the model's
  // layout already, and a reshape after it belongs to the next op, such as
  // a group norm).
  Value result = layer->getResult(0);
  Operation *user = singleUser(result);
  if (user && ((isa<tosa::MatMulOp>(layer) && isa<tosa::ReshapeOp>(user)) ||
               (isa<linalg::Conv2DNgchwGfchwOp>(layer) &&
                isa<tensor::CollapseShapeOp>(user))))
    return user->getResult(0);
  return result;
}

BlockArgument mlir::qat::stateArgumentOf(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (!isa<tosa::ReshapeOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp,
             tosa::TransposeOp>(def))
      return {};
    value = def->getOperand(0);
  }
  return dyn_cast<BlockArgument>(value);
}

Operation *mlir::qat::singleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}
