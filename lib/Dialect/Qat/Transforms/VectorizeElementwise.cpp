//===- VectorizeElementwise.cpp - elementwise ops on 16-lane vectors ------===//
//
// Part of qat-mlir. The --qat-vectorize-elementwise pass.
//
// Upstream's vectorizer wants one static vector shape for the whole op, or
// tiling and masked transfers of rank-4 vectors that then need unrolling;
// an elementwise op on buffers only needs its innermost loop in vectors.
// LLVM's loop vectorizer could do it, but with the host's cost model it
// also rewrites the rest of the step (slower on two threads, measured).
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

namespace mlir::qat {
#define GEN_PASS_DEF_VECTORIZEELEMENTWISE
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Lanes per vector: one zmm of f32 or i32.
constexpr int64_t kLanes = 16;
/// Shorter innermost loops stay scalar: a masked vector for 1-7 elements
/// costs more than it saves.
constexpr int64_t kMinInnerExtent = 8;

bool isVectorizableElement(Type type) {
  // i1 buffers hold a byte per element; a vector<16xi1> load would read
  // bits.
  return type.isF32() || type.isF64() || type.isInteger(8) ||
         type.isInteger(16) || type.isInteger(32) || type.isInteger(64);
}

/// Body ops that work on vectors lane by lane and cannot trap on the
/// don't-care lanes of a masked tail.
bool isLaneWise(Operation &op) {
  if (matchPattern(&op, m_Constant()))
    return true;
  if (!isa<arith::ArithDialect, math::MathDialect>(op.getDialect()) ||
      !OpTrait::hasElementwiseMappableTraits(&op) || op.getNumRegions() != 0)
    return false;
  if (isa<arith::DivSIOp, arith::DivUIOp, arith::RemSIOp, arith::RemUIOp,
          arith::CeilDivSIOp, arith::CeilDivUIOp, arith::FloorDivSIOp>(op))
    return false;
  return llvm::all_of(op.getResultTypes(), [](Type type) {
    return type.isIntOrFloat() && !type.isIndex();
  });
}

/// Whether operand `operand` is read or written with the innermost loop
/// `inner` as its contiguous last index (or does not depend on it).
bool hasContiguousInnerLoop(linalg::GenericOp op, OpOperand &operand,
                            unsigned inner, bool &usesInner) {
  auto type = dyn_cast<MemRefType>(operand.get().getType());
  if (!type || !isVectorizableElement(type.getElementType()))
    return false;
  AffineMap map = op.getMatchingIndexingMap(&operand);
  if (!map.isProjectedPermutation())
    return false;
  usesInner = map.isFunctionOfDim(inner);
  if (!usesInner)
    return true;
  auto last = dyn_cast<AffineDimExpr>(map.getResults().back());
  if (!last || last.getPosition() != inner)
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         strides.back() == 1;
}

bool matches(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() == 0 ||
      op.getNumParallelLoops() != op.getNumLoops())
    return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic) ||
      ranges.back() < kMinInnerExtent)
    return false;
  unsigned inner = op.getNumLoops() - 1;
  for (OpOperand &operand : op->getOpOperands()) {
    bool usesInner = false;
    if (!hasContiguousInnerLoop(op, operand, inner, usesInner))
      return false;
    if (op.isDpsInit(&operand) && !usesInner)
      return false;
  }
  return llvm::all_of(op.getBody()->without_terminator(), isLaneWise);
}

void vectorize(IRRewriter &rewriter, linalg::GenericOp op) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned inner = op.getNumLoops() - 1;
  int64_t extent = ranges[inner];
  auto index = [&](OpBuilder &b, int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  SmallVector<Value> lbs, ubs, steps;
  for (int64_t range : ArrayRef(ranges).drop_back()) {
    lbs.push_back(index(rewriter, 0));
    ubs.push_back(index(rewriter, range));
    steps.push_back(index(rewriter, 1));
  }
  Block *body = op.getBody();

  scf::buildLoopNest(
      rewriter, loc, lbs, ubs, steps,
      [&](OpBuilder &b, Location, ValueRange outer) {
        auto indices = [&](OpOperand &operand, Value innerIndex) {
          SmallVector<Value> result;
          for (AffineExpr expr :
               op.getMatchingIndexingMap(&operand).getResults()) {
            unsigned dim = cast<AffineDimExpr>(expr).getPosition();
            result.push_back(dim == inner ? innerIndex : outer[dim]);
          }
          return result;
        };
        auto vectorType = [](Type element) {
          return VectorType::get({kLanes}, element);
        };
        // Operands without the innermost loop: one load, all lanes alike.
        DenseMap<unsigned, Value> invariant;
        for (OpOperand *input : op.getDpsInputOperands()) {
          if (op.getMatchingIndexingMap(input).isFunctionOfDim(inner) ||
              body->getArgument(input->getOperandNumber()).use_empty())
            continue;
          Value scalar = memref::LoadOp::create(b, loc, input->get(),
                                                indices(*input, Value()));
          invariant[input->getOperandNumber()] = vector::BroadcastOp::create(
              b, loc, vectorType(scalar.getType()), scalar);
        }

        // One chunk of kLanes elements from `offset`, masked for the tail.
        auto chunk = [&](OpBuilder &b, Value offset, Value mask) {
          IRMapping lanes;
          for (OpOperand &operand : op->getOpOperands()) {
            unsigned number = operand.getOperandNumber();
            BlockArgument arg = body->getArgument(number);
            if (arg.use_empty())
              continue;
            if (auto it = invariant.find(number); it != invariant.end()) {
              lanes.map(arg, it->second);
              continue;
            }
            VectorType type = vectorType(arg.getType());
            SmallVector<Value> at = indices(operand, offset);
            Value loaded =
                mask ? vector::MaskedLoadOp::create(
                           b, loc, type, operand.get(), at, mask,
                           arith::ConstantOp::create(b, loc, type,
                                                     b.getZeroAttr(type)))
                           .getResult()
                     : vector::LoadOp::create(b, loc, type, operand.get(), at)
                           .getResult();
            lanes.map(arg, loaded);
          }
          // Scalars from outside the body (or its constants): broadcast.
          auto laneValue = [&](Value value) -> Value {
            if (Value mapped = lanes.lookupOrNull(value);
                mapped && isa<VectorType>(mapped.getType()))
              return mapped;
            Value scalar = lanes.lookupOrDefault(value);
            Value broadcast = vector::BroadcastOp::create(
                b, loc, vectorType(scalar.getType()), scalar);
            lanes.map(value, broadcast);
            return broadcast;
          };
          for (Operation &bodyOp : body->without_terminator()) {
            if (matchPattern(&bodyOp, m_Constant())) {
              b.clone(bodyOp, lanes);
              continue;
            }
            OperationState state(loc, bodyOp.getName());
            for (Value operand : bodyOp.getOperands())
              state.addOperands(laneValue(operand));
            for (Type type : bodyOp.getResultTypes())
              state.addTypes(vectorType(type));
            state.addAttributes(bodyOp.getAttrs());
            Operation *laneOp = b.create(state);
            lanes.map(bodyOp.getResults(), laneOp->getResults());
          }
          for (auto [yielded, init] :
               llvm::zip_equal(body->getTerminator()->getOperands(),
                               op.getDpsInitsMutable())) {
            Value value = laneValue(yielded);
            SmallVector<Value> at = indices(init, offset);
            if (mask)
              vector::MaskedStoreOp::create(b, loc, init.get(), at, mask,
                                            value);
            else
              vector::StoreOp::create(b, loc, value, init.get(), at);
          }
        };

        int64_t vectorEnd = extent - extent % kLanes;
        if (vectorEnd > 0)
          scf::ForOp::create(b, loc, index(b, 0), index(b, vectorEnd),
                             index(b, kLanes), ValueRange(),
                             [&](OpBuilder &b, Location, Value i, ValueRange) {
                               chunk(b, i, Value());
                               scf::YieldOp::create(b, loc);
                             });
        if (vectorEnd < extent) {
          Value mask = vector::CreateMaskOp::create(
              b, loc, VectorType::get({kLanes}, b.getI1Type()),
              ValueRange{index(b, extent - vectorEnd)});
          chunk(b, index(b, vectorEnd), mask);
        }
      });
  rewriter.eraseOp(op);
}

struct VectorizeElementwisePass
    : qat::impl::VectorizeElementwiseBase<VectorizeElementwisePass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> found;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (matches(op))
        found.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : found)
      vectorize(rewriter, op);
  }
};

} // namespace
