//===- Rebatch.cpp - a model function for another batch size --------------===//
//
// Part of qat-mlir. The --qat-rebatch pass.
//
// Follows the batch dimension forward from the inputs: each value computed
// from an input carries the batch in one known dimension, and its type gets
// the new size there. Ops whose result shape follows from their operands'
// (elementwise, padding) only change type; ops that spell out shapes
// (reshapes, expand_shape, the destinations of linalg ops) are rebuilt.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Tosa/Utils/ConversionUtils.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::qat {
#define GEN_PASS_DEF_REBATCHPASS
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

RankedTensorType withDim(Type type, int64_t dim, int64_t size) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(tensor.getShape());
  shape[dim] = size;
  return tensor.clone(shape);
}

int64_t product(ArrayRef<int64_t> sizes) {
  int64_t result = 1;
  for (int64_t size : sizes)
    result *= size;
  return result;
}

class Rebatcher {
public:
  Rebatcher(func::FuncOp function, int64_t batch)
      : function(function), batch(batch) {}

  LogicalResult run() {
    for (BlockArgument argument : function.getArguments()) {
      if (!function.getArgAttr(argument.getArgNumber(), "qat.input"))
        continue;
      auto type = dyn_cast<RankedTensorType>(argument.getType());
      if (!type || type.getRank() == 0 || !type.hasStaticShape())
        return function.emitError("--qat-rebatch: input ")
               << argument.getArgNumber()
               << " is not a statically shaped tensor with a batch dimension";
      if (oldBatch >= 0 && type.getDimSize(0) != oldBatch)
        return function.emitError("--qat-rebatch: the inputs disagree on "
                                  "the batch size");
      oldBatch = type.getDimSize(0);
      argument.setType(withDim(type, 0, batch));
      batchDim[argument] = 0;
    }
    if (oldBatch < 0)
      return function.emitError("--qat-rebatch: no 'qat.input' argument");
    if (oldBatch == batch)
      return success();
    for (Operation &op : llvm::make_early_inc_range(function.getBody().front()))
      if (failed(visit(&op)))
        return failure();
    // The destinations and shapes that were rebuilt.
    IRRewriter rewriter(function.getContext());
    (void)runRegionDCE(rewriter, function.getBody());
    Operation *terminator = function.getBody().front().getTerminator();
    function.setFunctionType(FunctionType::get(
        function.getContext(), function.getBody().front().getArgumentTypes(),
        terminator->getOperandTypes()));
    return success();
  }

private:
  /// The batch dimension of the batched operands of `op`, if they agree.
  FailureOr<std::optional<int64_t>> operandBatchDim(Operation *op) {
    std::optional<int64_t> dim;
    for (Value operand : op->getOperands()) {
      auto found = batchDim.find(operand);
      if (found == batchDim.end())
        continue;
      if (dim && *dim != found->second)
        return op->emitError("--qat-rebatch: '")
               << op->getName() << "' mixes the batch dimension";
      dim = found->second;
    }
    return dim;
  }

  LogicalResult fail(Operation *op, StringRef why) {
    return op->emitError("--qat-rebatch: cannot follow the batch through '")
           << op->getName() << "': " << why;
  }

  LogicalResult visit(Operation *op) {
    FailureOr<std::optional<int64_t>> dim = operandBatchDim(op);
    if (failed(dim))
      return failure();
    if (!*dim || isa<func::ReturnOp>(op))
      return success();
    if (auto reshape = dyn_cast<tosa::ReshapeOp>(op))
      return visitReshape(reshape, **dim);
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
      return visitExpand(expand, **dim);
    if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op))
      return visitCollapse(collapse, **dim);
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
      return visitLinalg(linalgOp, **dim);
    // Statistics of the batch (training): an observer's state and a batch
    // norm's running statistics have no batch dimension; the normalized
    // output keeps it.
    if (isa<ObserveMinMaxOp, ObserveMovingAverageMinMaxOp>(op))
      return success();
    if (auto batchNorm = dyn_cast<BatchNormOp>(op)) {
      if (**dim == 1)
        return fail(op, "the batch is in its channel dimension");
      setBatched(batchNorm.getOutput(), **dim);
      return success();
    }
    if (auto pad = dyn_cast<tensor::PadOp>(op)) {
      if (pad.getStaticLow()[**dim] != 0 || pad.getStaticHigh()[**dim] != 0)
        return fail(op, "it pads the batch dimension");
    }
    // Elementwise ops (with tosa's broadcasting) and padding: the result
    // has the batched operands' rank and the batch in the same dimension.
    if (op->getNumResults() != 1)
      return fail(op, "it has no rule for the batch");
    auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    for (Value operand : op->getOperands())
      if (batchDim.count(operand) &&
          (!type ||
           cast<RankedTensorType>(operand.getType()).getRank() !=
               type.getRank() ||
           type.getDimSize(**dim) != oldBatch))
        return fail(op, "its result does not keep the batch dimension");
    setBatched(op->getResult(0), **dim);
    return success();
  }

  void setBatched(Value value, int64_t dim) {
    value.setType(withDim(value.getType(), dim, batch));
    batchDim[value] = dim;
  }

  /// The dimension of `to` that holds the batch of `from`'s dimension `dim`
  /// (both old shapes), if a reshape keeps it whole.
  std::optional<int64_t> reshapedBatchDim(ArrayRef<int64_t> from, int64_t dim,
                                          ArrayRef<int64_t> to) {
    int64_t before = product(from.take_front(dim));
    for (int64_t d = 0; d < static_cast<int64_t>(to.size()); ++d)
      if (product(to.take_front(d)) == before && to[d] == oldBatch)
        return d;
    return std::nullopt;
  }

  LogicalResult visitReshape(tosa::ReshapeOp reshape, int64_t dim) {
    auto from = cast<RankedTensorType>(reshape.getInput1().getType());
    auto to = cast<RankedTensorType>(reshape.getType());
    // Shapes from before this pass: the operand's type is new already.
    SmallVector<int64_t> oldFrom(from.getShape());
    oldFrom[dim] = oldBatch;
    std::optional<int64_t> toDim =
        reshapedBatchDim(oldFrom, dim, to.getShape());
    if (!toDim)
      return fail(reshape, "it merges the batch with other dimensions");
    RankedTensorType newType = withDim(to, *toDim, batch);
    ImplicitLocOpBuilder b(reshape.getLoc(), reshape);
    reshape.getShapeMutable().assign(
        tosa::getTosaConstShape(b, newType.getShape()));
    setBatched(reshape.getResult(), *toDim);
    return success();
  }

  /// The group of a reassociation that holds dimension `dim` of the
  /// collapsed side, if the batch is alone in it.
  static std::optional<int64_t>
  singletonGroup(ArrayRef<ReassociationIndices> groups, int64_t dim) {
    for (auto [index, group] : llvm::enumerate(groups))
      if (llvm::is_contained(group, dim))
        return group.size() == 1 ? std::optional<int64_t>(index) : std::nullopt;
    return std::nullopt;
  }

  LogicalResult visitExpand(tensor::ExpandShapeOp expand, int64_t dim) {
    SmallVector<ReassociationIndices> groups = expand.getReassociationIndices();
    if (dim >= static_cast<int64_t>(groups.size()) || groups[dim].size() != 1)
      return fail(expand, "it splits the batch dimension");
    int64_t toDim = groups[dim][0];
    OpBuilder b(expand);
    auto replacement = tensor::ExpandShapeOp::create(
        b, expand.getLoc(), withDim(expand.getType(), toDim, batch),
        expand.getSrc(), groups);
    expand.replaceAllUsesWith(replacement.getResult());
    expand.erase();
    batchDim[replacement.getResult()] = toDim;
    return success();
  }

  LogicalResult visitCollapse(tensor::CollapseShapeOp collapse, int64_t dim) {
    SmallVector<ReassociationIndices> groups =
        collapse.getReassociationIndices();
    std::optional<int64_t> toDim = singletonGroup(groups, dim);
    if (!toDim)
      return fail(collapse, "it merges the batch with other dimensions");
    OpBuilder b(collapse);
    auto replacement = tensor::CollapseShapeOp::create(
        b, collapse.getLoc(), collapse.getSrc(), groups);
    collapse.replaceAllUsesWith(replacement.getResult());
    collapse.erase();
    batchDim[replacement.getResult()] = *toDim;
    return success();
  }

  /// A destination tensor (tensor.empty, or linalg.fill of one) rebuilt
  /// with the new batch in `dim`.
  FailureOr<Value> rebuildInit(OpBuilder &b, Value init, int64_t dim) {
    Location loc = init.getLoc();
    if (auto empty = init.getDefiningOp<tensor::EmptyOp>())
      return tensor::EmptyOp::create(
                 b, loc, withDim(empty.getType(), dim, batch).getShape(),
                 empty.getType().getElementType())
          .getResult();
    if (auto fill = init.getDefiningOp<linalg::FillOp>()) {
      FailureOr<Value> inner = rebuildInit(b, fill.getOutputs()[0], dim);
      if (failed(inner))
        return failure();
      return linalg::FillOp::create(b, loc, fill.getInputs()[0], *inner)
          .getResult(0);
    }
    return failure();
  }

  LogicalResult visitLinalg(linalg::LinalgOp op, int64_t dim) {
    // The loop that runs over the batch, from a batched input's map.
    std::optional<unsigned> loop;
    for (OpOperand *input : op.getDpsInputOperands()) {
      if (!batchDim.count(input->get()))
        continue;
      auto expr = dyn_cast<AffineDimExpr>(
          op.getMatchingIndexingMap(input).getResult(dim));
      if (!expr || (loop && *loop != expr.getPosition()))
        return fail(op, "the batch dimension is not one loop");
      loop = expr.getPosition();
    }
    if (!loop)
      return fail(op, "its destination carries the batch");
    OpBuilder b(op);
    for (OpOperand &init : op.getDpsInitsMutable()) {
      AffineMap map = op.getMatchingIndexingMap(&init);
      std::optional<unsigned> outDim =
          map.getResultPosition(b.getAffineDimExpr(*loop));
      if (!outDim)
        return fail(op, "its result reduces over the batch");
      FailureOr<Value> rebuilt = rebuildInit(b, init.get(), *outDim);
      if (failed(rebuilt))
        return fail(op, "its destination is not tensor.empty or a fill");
      init.assign(*rebuilt);
      Value result =
          op->getResult(init.getOperandNumber() - op.getNumDpsInputs());
      setBatched(result, *outDim);
    }
    return success();
  }

  func::FuncOp function;
  int64_t batch;
  int64_t oldBatch = -1;
  DenseMap<Value, int64_t> batchDim;
};

struct RebatchPass : qat::impl::RebatchPassBase<RebatchPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    bool hasInput = llvm::any_of(function.getArguments(), [&](BlockArgument a) {
      return function.getArgAttr(a.getArgNumber(), "qat.input") != nullptr;
    });
    if (!hasInput || function.isExternal())
      return;
    if (!functions.empty() &&
        !llvm::is_contained(functions, function.getSymName()))
      return;
    if (batch <= 0) {
      function.emitError("--qat-rebatch: the batch size must be positive, "
                         "not ")
          << static_cast<int64_t>(batch);
      return signalPassFailure();
    }
    if (failed(Rebatcher(function, batch).run()))
      return signalPassFailure();
  }
};

} // namespace
