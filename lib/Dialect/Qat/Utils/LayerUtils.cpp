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
  if (isa<tosa::MatMulOp>(op))
    return true;
  auto conv = dyn_cast<linalg::ConvolutionOpInterface>(op);
  return conv && llvm::any_of(op->getRegion(0).getOps(), [](Operation &inner) {
           return isa<arith::MulFOp>(inner);
         });
}

OpOperand &mlir::qat::weightUse(Operation *layer) {
  OpOperand *use = &layer->getOpOperand(1);
  while (Operation *def = use->get().getDefiningOp()) {
    if (!isa<tosa::ReshapeOp, tensor::ExpandShapeOp, tosa::TransposeOp>(def))
      break;
    use = &def->getOpOperand(0);
  }
  return *use;
}

Value mlir::qat::layerOutput(Operation *layer) {
  Value result = layer->getResult(0);
  Operation *user = singleUser(result);
  if (user && isa<tosa::ReshapeOp, tensor::CollapseShapeOp>(user))
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
