//===- AccumulatorFills.cpp - zero fills that microkernels absorb ---------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "AccumulatorFills.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace {

/// The op before `op` in its block that may touch memory, skipping views,
/// constants and index arithmetic.
Operation *previousEffectfulOp(Operation *op) {
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode())
    if (!isMemoryEffectFree(prev))
      return prev;
  return nullptr;
}

/// Whether `a`, computed in one iteration of a parallel loop with
/// induction variable `ivA`, is the value `b` computed in another loop's
/// iteration `ivB` with the same induction value: the same value from
/// outside, the induction variables themselves, or the same affine.apply.
bool sameIndexOfIteration(Value a, Value b, Value ivA, Value ivB) {
  if (a == b)
    return a != ivA && b != ivB;
  if (a == ivA && b == ivB)
    return true;
  auto applyA = a.getDefiningOp<affine::AffineApplyOp>();
  auto applyB = b.getDefiningOp<affine::AffineApplyOp>();
  if (!applyA || !applyB || applyA.getMap() != applyB.getMap())
    return false;
  return llvm::all_of_zip(
      applyA.getOperands(), applyB.getOperands(),
      [&](Value x, Value y) { return sameIndexOfIteration(x, y, ivA, ivB); });
}

/// Whether the subviews `a` (in iteration `ivA`) and `b` (in `ivB`) are
/// the same slice of the same buffer.
bool sameSliceOfIteration(Value a, Value b, Value ivA, Value ivB) {
  auto viewA = a.getDefiningOp<memref::SubViewOp>();
  auto viewB = b.getDefiningOp<memref::SubViewOp>();
  if (!viewA || !viewB || viewA.getSource() != viewB.getSource() ||
      viewA.getType() != viewB.getType() ||
      viewA.getStaticOffsets() != viewB.getStaticOffsets() ||
      viewA.getStaticSizes() != viewB.getStaticSizes() ||
      viewA.getStaticStrides() != viewB.getStaticStrides() ||
      !viewA.getSizes().empty() || !viewA.getStrides().empty() ||
      !viewB.getSizes().empty() || !viewB.getStrides().empty())
    return false;
  return llvm::all_of_zip(
      viewA.getOffsets(), viewB.getOffsets(),
      [&](Value x, Value y) { return sameIndexOfIteration(x, y, ivA, ivB); });
}

/// A one-dimensional scf.parallel whose body touches memory only through
/// `op` (views and index arithmetic aside).
scf::ParallelOp parallelAround(Operation *op) {
  auto loop = dyn_cast<scf::ParallelOp>(op->getParentOp());
  if (!loop || loop.getNumLoops() != 1 || loop.getNumReductions() != 0)
    return nullptr;
  for (Operation &other : loop.getBody()->without_terminator())
    if (&other != op && !isMemoryEffectFree(&other))
      return nullptr;
  return loop;
}

} // namespace

linalg::FillOp mlir::qat::zeroFillOfAccumulator(Operation *op, Value out) {
  auto isZeroFill = [](Operation *op) -> linalg::FillOp {
    auto fill = dyn_cast_or_null<linalg::FillOp>(op);
    if (fill && fill.hasPureBufferSemantics() &&
        matchPattern(fill.getInputs()[0], m_PosZeroFloat()))
      return fill;
    return nullptr;
  };
  if (linalg::FillOp fill = isZeroFill(previousEffectfulOp(op)))
    return fill.getOutputs()[0] == out ? fill : nullptr;

  scf::ParallelOp loop = parallelAround(op);
  if (!loop)
    return nullptr;
  auto fillLoop = dyn_cast_or_null<scf::ParallelOp>(previousEffectfulOp(loop));
  auto sameBound = [](Value a, Value b) {
    return isEqualConstantIntOrValue(getAsOpFoldResult(a),
                                     getAsOpFoldResult(b));
  };
  if (!fillLoop || fillLoop.getNumLoops() != 1 ||
      fillLoop.getNumReductions() != 0 ||
      !sameBound(fillLoop.getLowerBound()[0], loop.getLowerBound()[0]) ||
      !sameBound(fillLoop.getUpperBound()[0], loop.getUpperBound()[0]) ||
      !sameBound(fillLoop.getStep()[0], loop.getStep()[0]))
    return nullptr;
  linalg::FillOp fill;
  for (Operation &op : fillLoop.getBody()->without_terminator())
    if (!isMemoryEffectFree(&op) && (fill || !(fill = isZeroFill(&op))))
      return nullptr;
  if (!fill || !sameSliceOfIteration(fill.getOutputs()[0], out,
                                     fillLoop.getInductionVars()[0],
                                     loop.getInductionVars()[0]))
    return nullptr;
  return fill;
}

void mlir::qat::eraseFill(linalg::FillOp fill) {
  Operation *parent = fill->getParentOp();
  fill.erase();
  auto loop = dyn_cast<scf::ParallelOp>(parent);
  if (loop &&
      llvm::all_of(loop.getBody()->without_terminator(),
                   [](Operation &op) { return isMemoryEffectFree(&op); }))
    loop.erase();
}
