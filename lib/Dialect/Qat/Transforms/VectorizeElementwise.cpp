//===- VectorizeElementwise.cpp - lane-wise linalg ops on 16-lane vectors -===//
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

#include "LoopUtils.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
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

/// The loop to run on vectors: the last one longer than 1 (packing copies
/// end in unit loops); the loops after it have one iteration.
unsigned vectorLoop(ArrayRef<int64_t> ranges) {
  unsigned loop = ranges.size() - 1;
  while (loop > 0 && ranges[loop] == 1)
    --loop;
  return loop;
}

/// Where operand `operand` has the vector loop `inner`: the result position
/// (nothing if it does not depend on it), or failure unless that position
/// steps by one element with the loop (unit stride, unit coefficient), no
/// other position moves with it, and only unit dimensions follow it.
FailureOr<std::optional<unsigned>>
vectorPosition(linalg::GenericOp op, OpOperand &operand, unsigned inner) {
  Type operandType = operand.get().getType();
  // A scalar input (linalg.fill's value): the same in every lane.
  if (isVectorizableElement(operandType) && op.isDpsInput(&operand))
    return std::optional<unsigned>();
  auto type = dyn_cast<MemRefType>(operandType);
  if (!type || !isVectorizableElement(type.getElementType()))
    return failure();
  AffineMap map = op.getMatchingIndexingMap(&operand);
  std::optional<unsigned> position;
  for (auto [index, expr] : llvm::enumerate(map.getResults())) {
    if (!expr.isFunctionOfDim(inner))
      continue;
    if (position || !isUnitStep(expr, inner, map.getNumDims()))
      return failure();
    position = index;
  }
  if (!position)
    return std::optional<unsigned>();
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      strides[*position] != 1 ||
      llvm::any_of(type.getShape().drop_front(*position + 1),
                   [](int64_t size) { return size != 1; }))
    return failure();
  return position;
}

/// For each operand of an op this pass rewrites, where it has the vector
/// loop (nothing: the same value in every lane); nothing for other ops.
/// Every output must move with the vector loop: its lanes then update
/// distinct elements, so the vector loop may also be one of a reduction's
/// loops (a scatter such as a convolution's input gradient), and the loops
/// around it keep their order.
using VectorPositions = SmallVector<std::optional<unsigned>>;
std::optional<VectorPositions> match(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() == 0)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return std::nullopt;
  unsigned inner = vectorLoop(ranges);
  if (ranges[inner] < kMinInnerExtent ||
      !llvm::all_of(op.getBody()->without_terminator(), isLaneWise))
    return std::nullopt;
  VectorPositions positions;
  for (OpOperand &operand : op->getOpOperands()) {
    FailureOr<std::optional<unsigned>> position =
        vectorPosition(op, operand, inner);
    if (failed(position) || (op.isDpsInit(&operand) && !*position))
      return std::nullopt;
    positions.push_back(*position);
  }
  return positions;
}

void vectorize(IRRewriter &rewriter, linalg::GenericOp op,
               ArrayRef<std::optional<unsigned>> positions) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned inner = vectorLoop(ranges);
  int64_t extent = ranges[inner];
  auto index = [&](OpBuilder &b, int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  // Operands whose vector index is followed by unit dimensions: folded into
  // it, so that each vector runs along the last dimension.
  SmallVector<Value> buffers;
  for (OpOperand &operand : op->getOpOperands()) {
    std::optional<unsigned> position = positions[operand.getOperandNumber()];
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!position || *position + 1 == type.getRank()) {
      buffers.push_back(operand.get());
      continue;
    }
    SmallVector<ReassociationIndices> groups;
    for (unsigned dim = 0; dim < *position; ++dim)
      groups.push_back({dim});
    groups.emplace_back(llvm::to_vector_of<int64_t, 2>(
        llvm::seq<int64_t>(*position, type.getRank())));
    buffers.push_back(
        memref::CollapseShapeOp::create(rewriter, loc, operand.get(), groups));
  }
  SmallVector<Value> lbs, ubs, steps;
  for (int64_t range : ArrayRef(ranges).take_front(inner)) {
    lbs.push_back(index(rewriter, 0));
    ubs.push_back(index(rewriter, range));
    steps.push_back(index(rewriter, 1));
  }
  Block *body = op.getBody();

  scf::buildLoopNest(
      rewriter, loc, lbs, ubs, steps,
      [&](OpBuilder &b, Location, ValueRange outer) {
        Value zero = index(b, 0);
        // Indices into buffers[operand]: the loops' values, up to the
        // vector loop's position.
        auto indices = [&](OpOperand &operand, Value innerIndex) {
          SmallVector<Value> result;
          unsigned rank =
              cast<MemRefType>(buffers[operand.getOperandNumber()].getType())
                  .getRank();
          AffineMap map = op.getMatchingIndexingMap(&operand);
          // The loops' values: outer ones, the vector chunk's first
          // element, and 0 for the unit loops after it.
          SmallVector<Value> loops;
          for (unsigned dim = 0; dim < map.getNumDims(); ++dim)
            loops.push_back(dim < inner                  ? outer[dim]
                            : dim == inner && innerIndex ? innerIndex
                                                         : zero);
          for (AffineExpr expr : map.getResults().take_front(rank)) {
            if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
              result.push_back(loops[dim.getPosition()]);
              continue;
            }
            // A window (`oh + kh`) or strided (`oh * 2 + kh`) index.
            result.push_back(affine::AffineApplyOp::create(
                b, loc, AffineMap::get(map.getNumDims(), 0, expr), loops));
          }
          return result;
        };
        auto vectorType = [](Type element) {
          return VectorType::get({kLanes}, element);
        };
        // Operands without the vector loop: one load, all lanes alike.
        DenseMap<unsigned, Value> invariant;
        for (OpOperand *input : op.getDpsInputOperands()) {
          if (positions[input->getOperandNumber()] ||
              body->getArgument(input->getOperandNumber()).use_empty())
            continue;
          Value scalar = input->get();
          if (isa<MemRefType>(scalar.getType()))
            scalar = memref::LoadOp::create(b, loc,
                                            buffers[input->getOperandNumber()],
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
                           b, loc, type, buffers[number], at, mask,
                           arith::ConstantOp::create(b, loc, type,
                                                     b.getZeroAttr(type)))
                           .getResult()
                     : vector::LoadOp::create(b, loc, type, buffers[number], at)
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
              vector::MaskedStoreOp::create(
                  b, loc, buffers[init.getOperandNumber()], at, mask, value);
            else
              vector::StoreOp::create(b, loc, value,
                                      buffers[init.getOperandNumber()], at);
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
    IRRewriter rewriter(&getContext());
    // Packing and unpacking copies are transposes; buffers start as fills.
    // As generics they are lowered the same way where they stay scalar.
    SmallVector<linalg::LinalgOp> named;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (isa<linalg::TransposeOp, linalg::CopyOp, linalg::FillOp,
              linalg::BroadcastOp>(op) &&
          op.hasPureBufferSemantics())
        named.push_back(op);
    });
    for (linalg::LinalgOp op : named) {
      rewriter.setInsertionPoint(op);
      (void)linalg::generalizeNamedOp(rewriter, op);
    }
    SmallVector<std::pair<linalg::GenericOp, VectorPositions>> found;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (std::optional<VectorPositions> positions = match(op))
        found.emplace_back(op, std::move(*positions));
    });
    for (auto &[op, positions] : found)
      vectorize(rewriter, op, positions);
  }
};

} // namespace
