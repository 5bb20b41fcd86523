//===- TensorGradients.cpp - gradient rules of tensor ops -------*- C++ -*-===//
//
// Part of qat-mlir. External models of DifferentiableOpInterface for the
// tensor ops the importer emits: padding, slices and reshapes.
//
//===----------------------------------------------------------------------===//

#include "Registration.h"
#include "qat/Dialect/Qat/Gradients/GradientUtils.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::builders;
using namespace mlir::qat::gradients;

namespace {

template <typename Derived, typename OpT>
using Model = DifferentiableOpInterface::ExternalModel<Derived, OpT>;

/// The gradient of the unpadded part: the slice at the low padding. The
/// padding value is a constant of the model, not differentiated.
struct PadGradient : Model<PadGradient, tensor::PadOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto pad = cast<tensor::PadOp>(op);
    RankedTensorType sourceType = pad.getSourceType();
    if (!sourceType.hasStaticShape())
      return op->emitOpError("has no gradient rule for dynamic shapes");
    SmallVector<OpFoldResult> sizes, strides;
    for (int64_t size : sourceType.getShape()) {
      sizes.push_back(b.getIndexAttr(size));
      strides.push_back(b.getIndexAttr(1));
    }
    operandGradients[0] = tensor::ExtractSliceOp::create(
        b, op->getLoc(), sourceType, resultGradients[0], pad.getMixedLowPad(),
        sizes, strides);
    return success();
  }
};

/// The gradient of a slice: the result's gradient where the slice took its
/// entries, zero elsewhere.
struct ExtractSliceGradient
    : Model<ExtractSliceGradient, tensor::ExtractSliceOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto slice = cast<tensor::ExtractSliceOp>(op);
    RankedTensorType sourceType = slice.getSourceType();
    if (!sourceType.hasStaticShape() || !slice.getResultType().hasStaticShape())
      return op->emitOpError("has no gradient rule for dynamic shapes");
    if (slice.getResultType().getRank() != sourceType.getRank())
      return op->emitOpError("has no gradient rule for rank-reducing slices");
    operandGradients[0] = tensor::InsertSliceOp::create(
        b, op->getLoc(), resultGradients[0], zeros(b, op->getLoc(), sourceType),
        slice.getMixedOffsets(), slice.getMixedSizes(),
        slice.getMixedStrides());
    return success();
  }
};

struct ExpandShapeGradient : Model<ExpandShapeGradient, tensor::ExpandShapeOp> {
  bool isDifferentiableOperand(Operation *op, unsigned index) const {
    return index == 0;
  }
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto expand = cast<tensor::ExpandShapeOp>(op);
    operandGradients[0] = tensor::CollapseShapeOp::create(
        b, op->getLoc(), expand.getSrcType(), resultGradients[0],
        expand.getReassociationIndices());
    return success();
  }
};

struct CollapseShapeGradient
    : Model<CollapseShapeGradient, tensor::CollapseShapeOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b,
                               ArrayRef<Value> resultGradients,
                               SmallVectorImpl<Value> &operandGradients) const {
    auto collapse = cast<tensor::CollapseShapeOp>(op);
    operandGradients[0] = tensor::ExpandShapeOp::create(
        b, op->getLoc(), collapse.getSrcType(), resultGradients[0],
        collapse.getReassociationIndices());
    return success();
  }
};

} // namespace

void mlir::qat::registerTensorGradientExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::PadOp::attachInterface<PadGradient>(*ctx);
    tensor::ExtractSliceOp::attachInterface<ExtractSliceGradient>(*ctx);
    tensor::ExpandShapeOp::attachInterface<ExpandShapeGradient>(*ctx);
    tensor::CollapseShapeOp::attachInterface<CollapseShapeGradient>(*ctx);
  });
}
