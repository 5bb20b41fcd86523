//===- ImportLosses.cpp - PyTorch's loss functions --------------*- C++ -*-===//
//
// Part of qat-mlir. The losses of torch.nn.functional, for models whose
// forward returns their loss from (inputs, targets): each becomes tosa ops
// (and qat.softmax_cross_entropy) that have gradient rules, so that
// --qat-generate-backward differentiates any loss written with them.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <numeric>

using namespace mlir;
using namespace mlir::qat;

namespace mlir::qat::torch_import {

namespace {
/// PyTorch's at::Reduction.
enum Reduction : int64_t { None = 0, Mean = 1, Sum = 2 };
} // namespace

void Importer::importLoss(const NodeImport &n) {
  jit::Node *node = n.node;
  StringRef op = n.op;
  // Every op this node makes is marked as loss (kLossAttr) when it is done.
  Block *block = builder.getInsertionBlock();
  Operation *before = block->empty() ? nullptr : &block->back();
  auto result = [&](Value value) {
    auto first = before ? std::next(before->getIterator()) : block->begin();
    for (Operation &made : llvm::make_range(first, block->end()))
      made.setAttr(kLossAttr, builder.getUnitAttr());
    n.result(value);
  };
  if (op == "broadcast_tensors") {
    // F.mse_loss and friends broadcast input and target first; the losses
    // here take equal shapes, so this is the identity on them.
    auto it = values.find(node->input(0));
    if (it == values.end() || it->second.list.empty())
      fail("broadcast_tensors needs a list of tensors");
    SmallVector<Value> tensors;
    for (jit::Value *item : it->second.list) {
      tensors.push_back(tensorOf(item));
      if (shapeOf(tensors.back()) != shapeOf(tensors.front()))
        fail("broadcast_tensors of different shapes is not supported (a "
             "loss's input and target must have the same shape)");
    }
    values[node->output(0)].tensorList = std::move(tensors);
    return;
  }
  Value input = tensorOf(node->input(0));
  Value target = tensorOf(node->input(1));
  ArrayRef<int64_t> shape = shapeOf(input);
  auto targetType = cast<RankedTensorType>(target.getType());
  bool classTargets = isa<IntegerType>(targetType.getElementType());
  // `loss` (elementwise) reduced as PyTorch's `reduction` argument says: a
  // 0-d mean (sums one axis at a time, times 1/count), that mean times the
  // count, or the elementwise losses themselves.
  auto reduce = [&](Value loss, int64_t reduction) -> Value {
    if (reduction == Reduction::None)
      return loss;
    if (reduction != Reduction::Mean && reduction != Reduction::Sum)
      fail("unknown loss reduction " + llvm::Twine(reduction));
    std::vector<int64_t> dims(shapeOf(loss).size());
    std::iota(dims.begin(), dims.end(), 0);
    Value average = mean(loss, dims, /*keepDim=*/false);
    if (reduction == Reduction::Mean)
      return average;
    int64_t count = cast<RankedTensorType>(loss.getType()).getNumElements();
    return mul(average, splat(static_cast<float>(count), 0));
  };
  // |x|: tosa.abs, whose gradient is g * sign(x) with sign(0) = 0, as
  // PyTorch's abs backward.
  auto absolute = [&](Value x) -> Value {
    return tosa::AbsOp::create(builder, loc, x.getType(), x);
  };

  if (op == "cross_entropy_loss") {
    // (input, target, weight, reduction, ignore_index, label_smoothing)
    if (!isNone(node->input(2)))
      fail("cross_entropy with class weights is not supported");
    if (floatOf(node->input(5)) != 0.0)
      fail("cross_entropy with label smoothing is not supported");
    // Every position counts: a target outside [0, C) (PyTorch's default
    // ignore_index -100 included) is not ignored, so another ignore_index
    // would silently change the loss.
    if (intOf(node->input(4)) != -100)
      fail("cross_entropy with an ignore_index is not supported (targets "
           "must be classes in [0, C))");
    int64_t reduction = intOf(node->input(3));
    int64_t rank = shape.size();
    if (rank < 2)
      fail("cross_entropy needs N x C (x d1 x ...) logits");
    int64_t classes = shape[1];
    if (classTargets) {
      // Class indices in [0, C): the rows of every position, N*d1*... x C,
      // into qat.softmax_cross_entropy (whose mean over rows is PyTorch's
      // mean over positions). ignore_index is PyTorch's -100 by default:
      // targets must not use it (the op takes every row).
      SmallVector<int64_t> expected{shape[0]};
      expected.append(shape.begin() + 2, shape.end());
      if (targetType.getShape() != ArrayRef<int64_t>(expected))
        fail("cross_entropy class targets must have the logits' shape "
             "without the class dimension");
      if (reduction == Reduction::None)
        fail("cross_entropy with class targets supports the 'mean' and "
             "'sum' reductions");
      Value rows = input;
      int64_t positions = targetType.getNumElements();
      if (rank > 2) {
        SmallVector<int32_t> perms{0};
        for (int32_t dim = 2; dim < rank; ++dim)
          perms.push_back(dim);
        perms.push_back(1);
        rows = reshape(transpose(input, perms), {positions, classes});
      }
      Value labels = target;
      if (targetType.getRank() != 1) {
        SmallVector<ReassociationIndices> all(1);
        for (int64_t dim = 0; dim < targetType.getRank(); ++dim)
          all[0].push_back(dim);
        labels = tensor::CollapseShapeOp::create(builder, loc, target, all);
      }
      Value loss = SoftmaxCrossEntropyOp::create(
          builder, loc, RankedTensorType::get({}, builder.getF32Type()), rows,
          labels);
      if (reduction == Reduction::Sum)
        loss = mul(loss, splat(static_cast<float>(positions), 0));
      result(loss);
      return;
    }
    // Class probabilities of the logits' shape: -sum_c y log_softmax(x),
    // reduced over the positions.
    if (targetType.getShape() != shape)
      fail("cross_entropy probability targets must have the logits' shape");
    Value logProbabilities = softmax(input, 1, /*log=*/true);
    Value perPosition = reduceSum(mul(target, logProbabilities), 1);
    perPosition = mul(perPosition, splat(-1.0f, rank));
    SmallVector<int64_t> positions{shape[0]};
    positions.append(shape.begin() + 2, shape.end());
    result(reduce(reshape(perPosition, positions), reduction));
    return;
  }

  if (classTargets)
    fail(op.str() + " takes float targets");
  if (targetType.getShape() != shape)
    fail(op.str() + " targets must have the input's shape (no broadcasting)");
  Value difference = sub(input, target);
  if (op == "mse_loss") { // (input, target, reduction)
    result(reduce(mul(difference, difference), intOf(node->input(2))));
    return;
  }
  if (op == "l1_loss") { // (input, target, reduction)
    result(reduce(absolute(difference), intOf(node->input(2))));
    return;
  }
  if (op == "smooth_l1_loss") { // (input, target, reduction, beta)
    // PyTorch: |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta. Written with
    // c = clamp(d, -beta, beta) as 0.5 c^2 / beta + (|d| - |c|): equal in
    // both branches, and its gradient (d / beta inside, sign(d) outside and
    // at |d| = beta, clamp passing gradients strictly inside) is PyTorch's.
    double beta = floatOf(node->input(3));
    if (!(beta > 0.0))
      fail("smooth_l1_loss needs beta > 0 (beta 0 is l1_loss)");
    int64_t rank = shape.size();
    Value clamped = clamp(difference, -beta, beta);
    Value quadratic = mul(mul(clamped, clamped), splat(0.5 / beta, rank));
    Value linear = sub(absolute(difference), absolute(clamped));
    result(reduce(add(quadratic, linear), intOf(node->input(2))));
    return;
  }
  if (op == "binary_cross_entropy_with_logits") {
    // (input, target, weight, pos_weight, reduction):
    // max(x, 0) - x y + log(1 + exp(-|x|)), finite for any finite x, with
    // max(x, 0) written 0.5 (x + |x|) (the same f32 value): its gradient is
    // then sigmoid(x) - y everywhere, x = 0 (0.5 - y) included, as
    // PyTorch's.
    if (!isNone(node->input(2)) || !isNone(node->input(3)))
      fail("binary_cross_entropy_with_logits with weight or pos_weight is "
           "not supported");
    int64_t rank = shape.size();
    Value positive = mul(add(input, absolute(input)), splat(0.5f, rank));
    Value negativeAbs = mul(absolute(input), splat(-1.0f, rank));
    Value exp = tosa::ExpOp::create(builder, loc, input.getType(), negativeAbs);
    Value onePlus = add(exp, splat(1.0f, rank));
    Value softplus =
        tosa::LogOp::create(builder, loc, input.getType(), onePlus);
    Value loss = add(sub(positive, mul(input, target)), softplus);
    result(reduce(loss, intOf(node->input(4))));
    return;
  }
  fail("unsupported op '" + op.str() + "'");
}

} // namespace mlir::qat::torch_import
