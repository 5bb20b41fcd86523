//===- VectorizeMinMaxReductions.cpp - observers' ranges as vectors -------===//
//
// Part of qat-mlir. The --qat-vectorize-min-max-reductions pass.
//
// Upstream's vectorizer needs a static vector shape for the whole op (a
// 64x16x28x28 vector here) and split-reduction handles one output; this
// pass writes the loop an observer's two-output reduction wants directly.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_VECTORIZEMINMAXREDUCTIONSPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Elements per vector iteration: four 16-lane registers on AVX-512, so
/// four independent dependency chains.
constexpr int64_t kVectorElements = 64;

/// The combiners whose result does not depend on the order of reduction:
/// NaN wins and -0 < +0. (minnumf/maxnumf may return either zero of a
/// -0/+0 pair, so their result can depend on the order.)
std::optional<vector::CombiningKind> orderFreeKind(Operation *op) {
  using Kind = std::optional<vector::CombiningKind>;
  return llvm::TypeSwitch<Operation *, Kind>(op)
      .Case([](arith::MinimumFOp) { return vector::CombiningKind::MINIMUMF; })
      .Case([](arith::MaximumFOp) { return vector::CombiningKind::MAXIMUMF; })
      .Default([](Operation *) { return std::nullopt; });
}

/// What output `j` accumulates: which input, combined how.
struct Accumulation {
  unsigned input;
  vector::CombiningKind kind;
};

/// The accumulations of a full min/max reduction of contiguous f32 buffers
/// into 0-d buffers, or nothing for any other op.
std::optional<SmallVector<Accumulation>> match(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() ||
      op.getNumReductionLoops() != op.getNumLoops() || op.getNumLoops() == 0)
    return std::nullopt;
  ArrayRef<int64_t> shape;
  for (OpOperand *input : op.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (!type || !type.getElementType().isF32() ||
        !memref::isStaticShapeAndContiguousRowMajor(type) ||
        !op.getMatchingIndexingMap(input).isIdentity() ||
        (!shape.empty() && type.getShape() != shape))
      return std::nullopt;
    shape = type.getShape();
  }
  for (OpOperand &init : op.getDpsInitsMutable()) {
    auto type = dyn_cast<MemRefType>(init.get().getType());
    if (!type || type.getRank() != 0 || !type.getElementType().isF32())
      return std::nullopt;
  }
  Block *body = op.getBody();
  unsigned numInputs = op.getNumDpsInputs();
  SmallVector<Accumulation> accumulations;
  for (auto [j, yielded] :
       llvm::enumerate(body->getTerminator()->getOperands())) {
    Operation *combine = yielded.getDefiningOp();
    std::optional<vector::CombiningKind> kind =
        combine ? orderFreeKind(combine) : std::nullopt;
    if (!kind)
      return std::nullopt;
    // One operand is input k's element, the other output j's running value.
    auto isInput = [&](Value v) {
      auto arg = dyn_cast<BlockArgument>(v);
      return arg && arg.getOwner() == body && arg.getArgNumber() < numInputs;
    };
    Value own = body->getArgument(numInputs + j);
    Value lhs = combine->getOperand(0), rhs = combine->getOperand(1);
    if (rhs == own && isInput(lhs))
      accumulations.push_back({cast<BlockArgument>(lhs).getArgNumber(), *kind});
    else if (lhs == own && isInput(rhs))
      accumulations.push_back({cast<BlockArgument>(rhs).getArgNumber(), *kind});
    else
      return std::nullopt;
  }
  // Nothing else in the body.
  if (static_cast<size_t>(std::distance(body->begin(), body->end())) !=
      accumulations.size() + 1)
    return std::nullopt;
  return accumulations;
}

void vectorize(IRRewriter &rewriter, linalg::GenericOp op,
               ArrayRef<Accumulation> accumulations) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  auto inputType = cast<MemRefType>(op.getDpsInputs().front().getType());
  int64_t total = inputType.getNumElements();
  // Every input as one flat buffer.
  SmallVector<Value> flat;
  SmallVector<ReassociationIndices> all(1);
  all[0] = llvm::to_vector_of<int64_t, 2>(
      llvm::seq<int64_t>(0, inputType.getRank()));
  for (Value input : op.getDpsInputs())
    flat.push_back(inputType.getRank() == 1 ? input
                                            : memref::CollapseShapeOp::create(
                                                  rewriter, loc, input, all)
                                                  .getResult());

  SmallVector<Value> running;
  for (Value init : op.getDpsInits())
    running.push_back(memref::LoadOp::create(rewriter, loc, init));
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, value);
  };
  auto combineAll = [&](OpBuilder &b, ArrayRef<Value> elements,
                        ValueRange accumulators) {
    SmallVector<Value> next;
    for (auto [accumulation, accumulator] :
         llvm::zip_equal(accumulations, accumulators))
      next.push_back(vector::makeArithReduction(b, loc, accumulation.kind,
                                                elements[accumulation.input],
                                                accumulator));
    return next;
  };

  // Vector part: each accumulator starts as the old value in every lane
  // (min and max are idempotent), then one horizontal reduction.
  int64_t vectorEnd = total - total % kVectorElements;
  if (vectorEnd > 0) {
    auto vectorType = VectorType::get({kVectorElements}, rewriter.getF32Type());
    SmallVector<Value> lanes;
    for (Value value : running)
      lanes.push_back(
          vector::BroadcastOp::create(rewriter, loc, vectorType, value));
    auto loop = scf::ForOp::create(
        rewriter, loc, index(0), index(vectorEnd), index(kVectorElements),
        lanes, [&](OpBuilder &b, Location, Value i, ValueRange accumulators) {
          SmallVector<Value> elements;
          for (Value buffer : flat)
            elements.push_back(
                vector::LoadOp::create(b, loc, vectorType, buffer, i));
          scf::YieldOp::create(b, loc, combineAll(b, elements, accumulators));
        });
    for (auto [k, accumulation] : llvm::enumerate(accumulations))
      running[k] = vector::ReductionOp::create(rewriter, loc, accumulation.kind,
                                               loop.getResult(k));
  }
  // Scalar remainder.
  if (vectorEnd < total) {
    auto loop = scf::ForOp::create(
        rewriter, loc, index(vectorEnd), index(total), index(1), running,
        [&](OpBuilder &b, Location, Value i, ValueRange accumulators) {
          SmallVector<Value> elements;
          for (Value buffer : flat)
            elements.push_back(memref::LoadOp::create(b, loc, buffer, i));
          scf::YieldOp::create(b, loc, combineAll(b, elements, accumulators));
        });
    running.assign(loop.getResults().begin(), loop.getResults().end());
  }
  for (auto [value, init] : llvm::zip_equal(running, op.getDpsInits()))
    memref::StoreOp::create(rewriter, loc, value, init);
  rewriter.eraseOp(op);
}

struct VectorizeMinMaxReductionsPass
    : qat::impl::VectorizeMinMaxReductionsPassBase<
          VectorizeMinMaxReductionsPass> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, SmallVector<Accumulation>>> found;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (std::optional<SmallVector<Accumulation>> accumulations = match(op))
        found.emplace_back(op, std::move(*accumulations));
    });
    IRRewriter rewriter(&getContext());
    for (auto &[op, accumulations] : found)
      vectorize(rewriter, op, accumulations);
  }
};

} // namespace
