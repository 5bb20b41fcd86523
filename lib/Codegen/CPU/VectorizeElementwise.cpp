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

#include "qat/Codegen/CPU/Passes.h"

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
#define GEN_PASS_DEF_VECTORIZEELEMENTWISEPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Lanes per vector: one zmm of f32 or i32.
constexpr int64_t kLanes = 16;
/// Chunks whose outputs stay in registers together through the reduction
/// loops: independent accumulation chains hide the adds' latency, and each
/// reduction step reads 4 consecutive cache lines of a row, not one.
constexpr int64_t kAccumulatedChunks = 4;
/// Shorter innermost loops stay scalar: a masked vector for a few elements
/// costs more than it saves. Rows of 7 (max pooling's 14 -> 7 and its
/// window-position search) measured 3-7% faster on vectors over the small
/// CNN's step.
constexpr int64_t kMinInnerExtent = 7;

bool isVectorizableElement(Type type) {
  // i1 buffers hold a byte per element; a vector<16xi1> load would read
  // bits.
  return type.isF32() || type.isF64() || type.isInteger(8) ||
         type.isInteger(16) || type.isInteger(32) || type.isInteger(64);
}

/// The loop to run on vectors: the last one longer than 1 (packing copies
/// end in unit loops); the loops after it have one iteration.
unsigned vectorLoop(ArrayRef<int64_t> ranges) {
  unsigned loop = ranges.size() - 1;
  while (loop > 0 && ranges[loop] == 1)
    --loop;
  return loop;
}

/// Merges the vector loop with the parallel loops before it over which
/// every operand is contiguous: a 28x28 map becomes one row of 784 (49
/// full chunks) instead of 28 rows of 16 + 12 lanes. Besides the masks,
/// this saves the stall of a load that overlaps the previous row's masked
/// store (its masked-off lanes still cover the next row's first chunk). The
/// merged op, or `op` when nothing merges.
linalg::GenericOp mergeContiguousLoops(IRRewriter &rewriter,
                                       linalg::GenericOp op) {
  // Scalar operands (a fill's value) index no loop and stay as they are.
  if (!op.hasPureBufferSemantics() || op.getNumLoops() < 2)
    return op;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return op;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  unsigned inner = vectorLoop(ranges);
  // linalg.index of a merged loop would need a division to recover.
  auto indexed = [&](unsigned loop) {
    return llvm::any_of(
        op.getBody()->getOps<linalg::IndexOp>(),
        [&](linalg::IndexOp index) { return index.getDim() == loop; });
  };
  // A window index (`oh + kh`) cannot be split off a merged loop.
  auto plainIndex = [&](unsigned loop) {
    return llvm::all_of(maps, [&](AffineMap map) {
      return llvm::all_of(map.getResults(), [&](AffineExpr expr) {
        return isa<AffineDimExpr>(expr) || !expr.isFunctionOfDim(loop);
      });
    });
  };
  // Each operand indexes either none of the loops or all of them, as
  // consecutive dimensions in loop order that its layout can merge.
  auto collapsible = [&](const ReassociationIndices &loops) {
    for (OpOperand &operand : op->getOpOperands()) {
      AffineMap map = op.getMatchingIndexingMap(&operand);
      SmallVector<std::optional<unsigned>> positions;
      for (int64_t loop : loops)
        positions.push_back(
            map.getResultPosition(getAffineDimExpr(loop, op.getContext())));
      if (llvm::none_of(positions, [](auto p) { return p.has_value(); }))
        continue;
      for (auto [k, position] : llvm::enumerate(positions))
        if (!position || *position != *positions.front() + k)
          return false;
      auto type = cast<MemRefType>(operand.get().getType());
      if (!memref::CollapseShapeOp::isGuaranteedCollapsible(
              type,
              mergeDims(type.getRank(), *positions.front(), loops.size())))
        return false;
    }
    return true;
  };
  if (iterators[inner] != utils::IteratorType::parallel || indexed(inner) ||
      !plainIndex(inner))
    return op;
  ReassociationIndices group = {inner};
  while (group.front() > 0) {
    unsigned loop = group.front() - 1;
    ReassociationIndices wider = group;
    wider.insert(wider.begin(), loop);
    if (iterators[loop] != utils::IteratorType::parallel || indexed(loop) ||
        !plainIndex(loop) || !collapsible(wider))
      break;
    group = std::move(wider);
  }
  if (group.size() == 1)
    return op;
  // (Upstream's collapseOpIterationDims also collapses the operands that
  // broadcast over the loops, such as a per-channel `(0, d1, 0, 0)`, and
  // then builds maps that do not match them.)
  rewriter.setInsertionPoint(op);
  MLIRContext *context = op.getContext();
  unsigned first = group.front(), merged = group.size() - 1;
  SmallVector<AffineExpr> renumbered;
  for (unsigned loop = 0; loop < op.getNumLoops(); ++loop) {
    unsigned position = loop < first           ? loop
                        : loop <= group.back() ? first
                                               : loop - merged;
    renumbered.push_back(getAffineDimExpr(position, context));
  }
  SmallVector<Value> operands;
  SmallVector<AffineMap> mergedMaps;
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    std::optional<unsigned> start =
        map.getResultPosition(getAffineDimExpr(first, context));
    // The merged dimensions keep the first's index: the merged loop.
    SmallVector<AffineExpr> results;
    for (auto [position, expr] : llvm::enumerate(map.getResults()))
      if (!start || position <= *start || position > *start + merged)
        results.push_back(expr.replaceDims(renumbered));
    mergedMaps.push_back(
        AffineMap::get(op.getNumLoops() - merged, 0, results, context));
    operands.push_back(
        start ? memref::CollapseShapeOp::create(
                    rewriter, op.getLoc(), operand.get(),
                    mergeDims(map.getNumResults(), *start, group.size()))
                    .getResult()
              : operand.get());
  }
  SmallVector<utils::IteratorType> mergedIterators = iterators;
  mergedIterators.erase(mergedIterators.begin() + first + 1,
                        mergedIterators.begin() + group.back() + 1);
  unsigned numInputs = op.getNumDpsInputs();
  auto mergedOp = linalg::GenericOp::create(
      rewriter, op.getLoc(), TypeRange(),
      ArrayRef(operands).take_front(numInputs),
      ArrayRef(operands).drop_front(numInputs), mergedMaps, mergedIterators);
  mergedOp.getRegion().takeBody(op.getRegion());
  rewriter.eraseOp(op);
  return mergedOp;
}

/// How an operand is read or written along the vector loop.
struct VectorAccess {
  /// The index that moves with the vector loop; nothing: the same element
  /// in every lane.
  std::optional<unsigned> position;
  /// Elements between neighbouring lanes: 1 for a vector load or store,
  /// more for an input read with a gather.
  int64_t laneStride = 1;
  /// Every other element of a contiguous row (a stride-2 window): two
  /// vector loads and a shuffle instead of a gather.
  bool pairs = false;
};

/// How operand `operand` moves with the vector loop `inner`, or failure
/// unless one of its indices steps by a constant with the loop, no other
/// index moves with it, and only unit dimensions follow that index. Outputs
/// must step one element at a time (so that lanes update distinct elements
/// with vector stores); inputs may be gathered.
FailureOr<VectorAccess> vectorAccess(linalg::GenericOp op, OpOperand &operand,
                                     unsigned inner) {
  Type operandType = operand.get().getType();
  // A scalar input (linalg.fill's value): the same in every lane.
  if (isVectorizableElement(operandType) && op.isDpsInput(&operand))
    return VectorAccess();
  auto type = dyn_cast<MemRefType>(operandType);
  if (!type || !isVectorizableElement(type.getElementType()))
    return failure();
  AffineMap map = op.getMatchingIndexingMap(&operand);
  VectorAccess access;
  std::optional<int64_t> step;
  for (auto [index, expr] : llvm::enumerate(map.getResults())) {
    if (!expr.isFunctionOfDim(inner))
      continue;
    step = constantStep(expr, inner, map.getNumDims());
    if (access.position || !step || *step < 1)
      return failure();
    access.position = index;
  }
  if (!access.position)
    return access;
  SmallVector<int64_t> strides;
  int64_t offset;
  // Gathers could also take rows with other dimensions after the vector
  // index (col2im, transposing packs), but there they measured slower than
  // the scalar loops (LLVM splits each into two 8-lane vgatherqps).
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      ShapedType::isDynamic(strides[*access.position]) ||
      llvm::any_of(type.getShape().drop_front(*access.position + 1),
                   [](int64_t size) { return size != 1; }))
    return failure();
  access.laneStride = *step * strides[*access.position];
  access.pairs = access.laneStride == 2 && strides[*access.position] == 1;
  if (access.laneStride != 1 && op.isDpsInit(&operand))
    return failure();
  // A gather takes element offsets from a unit-stride innermost dimension.
  if (access.laneStride != 1 && !access.pairs &&
      (strides.back() != 1 ||
       access.laneStride * kLanes > std::numeric_limits<int32_t>::max()))
    return failure();
  return access;
}

/// Body values that are the same in every lane: loop indices outside the
/// vector loop, operands without it, values from outside the body, and what
/// is computed from those alone. They stay scalars (an index computation,
/// the position in a pooling window) and are broadcast where a lane-wise op
/// uses them. Nothing if some op is neither uniform nor lane-wise.
std::optional<DenseSet<Value>> uniformValues(linalg::GenericOp op,
                                             unsigned inner,
                                             ArrayRef<VectorAccess> accesses) {
  Block *body = op.getBody();
  DenseSet<Value> uniform;
  for (BlockArgument arg : body->getArguments())
    if (!accesses[arg.getArgNumber()].position)
      uniform.insert(arg);
  auto isUniform = [&](Value value) {
    return uniform.contains(value) || value.getParentBlock() != body;
  };
  // linalg's affine.apply of indices takes all of them, used or not.
  auto usesOnlyUniform = [&](Operation &bodyOp) {
    auto apply = dyn_cast<affine::AffineApplyOp>(bodyOp);
    if (!apply)
      return llvm::all_of(bodyOp.getOperands(), isUniform);
    AffineMap map = apply.getAffineMap();
    for (auto [position, operand] : llvm::enumerate(apply.getMapOperands())) {
      bool used = position < map.getNumDims()
                      ? map.isFunctionOfDim(position)
                      : map.isFunctionOfSymbol(position - map.getNumDims());
      if (used && !isUniform(operand))
        return false;
    }
    return true;
  };
  for (Operation &bodyOp : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
      if (index.getDim() != inner)
        uniform.insert(index);
      continue;
    }
    if (isPure(&bodyOp) && bodyOp.getNumRegions() == 0 &&
        usesOnlyUniform(bodyOp)) {
      uniform.insert(bodyOp.result_begin(), bodyOp.result_end());
      continue;
    }
    if (!isLaneWise(bodyOp))
      return std::nullopt;
  }
  return uniform;
}

/// What the rewrite needs to know about an op it can vectorize.
struct VectorPlan {
  SmallVector<VectorAccess> accesses; // one per operand
  DenseSet<Value> uniform;
};

/// Every output must move with the vector loop: its lanes then update
/// distinct elements, so the vector loop may also be one of a reduction's
/// loops (a scatter such as a convolution's input gradient), and the loops
/// around it keep their order.
std::optional<VectorPlan> match(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() == 0)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return std::nullopt;
  unsigned inner = vectorLoop(ranges);
  if (ranges[inner] < kMinInnerExtent)
    return std::nullopt;
  VectorPlan plan;
  for (OpOperand &operand : op->getOpOperands()) {
    FailureOr<VectorAccess> access = vectorAccess(op, operand, inner);
    if (failed(access) || (op.isDpsInit(&operand) && !access->position))
      return std::nullopt;
    plan.accesses.push_back(*access);
  }
  std::optional<DenseSet<Value>> uniform =
      uniformValues(op, inner, plan.accesses);
  if (!uniform)
    return std::nullopt;
  plan.uniform = std::move(*uniform);
  return plan;
}

/// The loops before the vector loop that are a reduction's, if the vector
/// loop can keep its outputs in registers across them: they come last
/// (after every parallel loop but the vector loop), and no output depends
/// on them. Each output chunk is then loaded once, updated through the
/// reduction loops and stored once, each element still summed in the same
/// order. Nothing otherwise (and for scatters).
std::optional<unsigned> accumulationStart(linalg::GenericOp op,
                                          unsigned inner) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (iterators[inner] != utils::IteratorType::parallel)
    return std::nullopt;
  unsigned start = inner;
  while (start > 0 && iterators[start - 1] == utils::IteratorType::reduction)
    --start;
  if (start == inner || llvm::any_of(ArrayRef(iterators).take_front(start),
                                     [](utils::IteratorType type) {
                                       return type !=
                                              utils::IteratorType::parallel;
                                     }))
    return std::nullopt;
  for (OpOperand &init : op.getDpsInitsMutable())
    for (unsigned loop = start; loop < inner; ++loop)
      if (op.getMatchingIndexingMap(&init).isFunctionOfDim(loop))
        return std::nullopt;
  // An input that is also an output would have to see each update.
  if (llvm::any_of(op.getDpsInputs(), [&](Value input) {
        return llvm::is_contained(op.getDpsInits(), input);
      }))
    return std::nullopt;
  return start;
}

/// Rewrites one matched op.
class Vectorizer {
public:
  Vectorizer(IRRewriter &rewriter, linalg::GenericOp op, const VectorPlan &plan)
      : rewriter(rewriter), op(op), plan(plan), loc(op.getLoc()),
        body(op.getBody()), ranges(op.getStaticLoopRanges()),
        inner(vectorLoop(ranges)) {}

  void run() {
    rewriter.setInsertionPoint(op);
    foldUnitDimensions();
    std::optional<unsigned> reductions = accumulationStart(op, inner);
    unsigned outerLoops = reductions.value_or(inner);
    SmallVector<Value> lbs, ubs, steps;
    for (int64_t range : ArrayRef(ranges).take_front(outerLoops)) {
      lbs.push_back(index(rewriter, 0));
      ubs.push_back(index(rewriter, range));
      steps.push_back(index(rewriter, 1));
    }
    scf::buildLoopNest(
        rewriter, loc, lbs, ubs, steps,
        [&](OpBuilder &b, Location, ValueRange outer) {
          if (reductions) {
            forEachChunkGroup(b, kAccumulatedChunks,
                              [&](OpBuilder &b, ArrayRef<Chunk> chunks) {
                                accumulatingChunks(b, outer, chunks);
                              });
            return;
          }
          Invariants row = loadInvariants(b, outer);
          forEachChunkGroup(b, 1, [&](OpBuilder &b, ArrayRef<Chunk> chunks) {
            const Chunk &chunk = chunks.front();
            SmallVector<Value> results = computeChunk(
                b, outer, row, chunk.offset, chunk.mask, chunk.active, {});
            storeChunk(b, outer, chunk.offset, chunk.mask, results);
          });
        });
    rewriter.eraseOp(op);
  }

private:
  /// Operands without the vector loop, loaded once for a row: the scalars,
  /// and their broadcasts for the lane-wise ops.
  struct Invariants {
    IRMapping scalars;
    DenseMap<Value, Value> lanes;
  };
  /// `active` lanes of the vector loop from `offset` (under `mask`, unless
  /// all kLanes are active).
  struct Chunk {
    Value offset, mask;
    int64_t active;
  };
  using ChunkGroupBuilder = function_ref<void(OpBuilder &, ArrayRef<Chunk>)>;

  Value index(OpBuilder &b, int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  static VectorType vectorType(Type element) {
    return VectorType::get({kLanes}, element);
  }

  /// Operands loaded or stored as vectors whose vector index is followed by
  /// unit dimensions: folded into it, so that each vector runs along the
  /// last dimension. (Gathers take element offsets; they keep the shape.)
  void foldUnitDimensions() {
    for (OpOperand &operand : op->getOpOperands()) {
      const VectorAccess &access = plan.accesses[operand.getOperandNumber()];
      auto type = dyn_cast<MemRefType>(operand.get().getType());
      if (!access.position || (access.laneStride != 1 && !access.pairs) ||
          *access.position + 1 == type.getRank()) {
        buffers.push_back(operand.get());
        continue;
      }
      buffers.push_back(memref::CollapseShapeOp::create(
          rewriter, loc, operand.get(),
          mergeDims(type.getRank(), *access.position,
                    type.getRank() - *access.position)));
    }
  }

  /// The value of loop `dim`: `loops` holds the loops before the vector
  /// loop (only the parallel ones outside a reduction, for the outputs,
  /// which do not depend on the others); the vector loop is at the chunk's
  /// first element (0 for operands that do not move with it), the unit
  /// loops after it at 0.
  Value loopValue(OpBuilder &b, ValueRange loops, unsigned dim,
                  Value innerIndex) {
    if (dim < loops.size())
      return loops[dim];
    return dim == inner && innerIndex ? innerIndex : index(b, 0);
  }

  /// Indices into buffers[operand].
  SmallVector<Value> indices(OpBuilder &b, ValueRange loops, OpOperand &operand,
                             Value innerIndex) {
    unsigned rank =
        cast<MemRefType>(buffers[operand.getOperandNumber()].getType())
            .getRank();
    AffineMap map = op.getMatchingIndexingMap(&operand);
    SmallVector<Value> values;
    for (unsigned dim = 0; dim < map.getNumDims(); ++dim)
      values.push_back(loopValue(b, loops, dim, innerIndex));
    SmallVector<Value> result;
    for (AffineExpr expr : map.getResults().take_front(rank)) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
        result.push_back(values[dim.getPosition()]);
        continue;
      }
      // A window (`oh + kh`) or strided (`oh * 2 + kh`) index.
      result.push_back(affine::AffineApplyOp::create(
          b, loc, AffineMap::get(map.getNumDims(), 0, expr), values));
    }
    return result;
  }

  Invariants loadInvariants(OpBuilder &b, ValueRange loops) {
    Invariants row;
    for (OpOperand *input : op.getDpsInputOperands()) {
      BlockArgument arg = body->getArgument(input->getOperandNumber());
      if (plan.accesses[input->getOperandNumber()].position || arg.use_empty())
        continue;
      Value scalar = input->get();
      if (isa<MemRefType>(scalar.getType()))
        scalar =
            memref::LoadOp::create(b, loc, buffers[input->getOperandNumber()],
                                   indices(b, loops, *input, Value()));
      row.scalars.map(arg, scalar);
      // Lane-wise users, and the yield of the invariant itself, need it
      // broadcast.
      if (llvm::any_of(arg.getUsers(), [&](Operation *user) {
            return user->getNumResults() == 0 ||
                   !plan.uniform.contains(user->getResult(0));
          }))
        row.lanes[arg] = vector::BroadcastOp::create(
            b, loc, vectorType(scalar.getType()), scalar);
    }
    return row;
  }

  /// Calls `build` for each group of `groupSize` full chunks of the vector
  /// loop (kLanes elements each), then for the full chunks left one by one,
  /// then for the tail under a mask.
  void forEachChunkGroup(OpBuilder &b, int64_t groupSize,
                         ChunkGroupBuilder build) {
    int64_t extent = ranges[inner];
    int64_t groupLanes = groupSize * kLanes;
    int64_t groupEnd = extent - extent % groupLanes;
    if (groupEnd > 0)
      scf::ForOp::create(
          b, loc, index(b, 0), index(b, groupEnd), index(b, groupLanes),
          ValueRange(), [&](OpBuilder &b, Location, Value i, ValueRange) {
            SmallVector<Chunk> chunks;
            for (int64_t chunk = 0; chunk < groupSize; ++chunk)
              chunks.push_back(
                  {chunk == 0 ? i
                              : arith::AddIOp::create(b, loc, i,
                                                      index(b, chunk * kLanes))
                                    .getResult(),
                   Value(), kLanes});
            build(b, chunks);
            scf::YieldOp::create(b, loc);
          });
    int64_t vectorEnd = extent - extent % kLanes;
    for (int64_t start = groupEnd; start < vectorEnd; start += kLanes)
      build(b, Chunk{index(b, start), Value(), kLanes});
    if (vectorEnd < extent) {
      Value mask = vector::CreateMaskOp::create(
          b, loc, VectorType::get({kLanes}, b.getI1Type()),
          ValueRange{index(b, extent - vectorEnd)});
      build(b, Chunk{index(b, vectorEnd), mask, extent - vectorEnd});
    }
  }

  /// Operand `operand` for the `active` lanes from `offset`.
  Value loadLanes(OpBuilder &b, ValueRange loops, OpOperand &operand,
                  Value offset, Value mask, int64_t active) {
    unsigned number = operand.getOperandNumber();
    const VectorAccess &access = plan.accesses[number];
    VectorType type = vectorType(body->getArgument(number).getType());
    SmallVector<Value> at = indices(b, loops, operand, offset);
    auto passThru = [&]() -> Value {
      return arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
    };
    auto lanesMask = [&](int64_t count) -> Value {
      return vector::ConstantMaskOp::create(
          b, loc, VectorType::get({kLanes}, b.getI1Type()),
          ArrayRef<int64_t>{count});
    };
    if (access.pairs) {
      // Elements 0, 2, ..., 2 * (active - 1) from `at`: the even lanes of
      // two vectors, loaded under masks that stop at the last element used.
      int64_t span = 2 * active - 1;
      auto half = [&](int64_t first) -> Value {
        int64_t count = std::clamp<int64_t>(span - first, 0, kLanes);
        if (count == 0)
          return passThru();
        SmallVector<Value> from = at;
        if (first)
          from.back() =
              arith::AddIOp::create(b, loc, from.back(), index(b, first));
        if (count == kLanes)
          return vector::LoadOp::create(b, loc, type, buffers[number], from);
        return vector::MaskedLoadOp::create(b, loc, type, buffers[number], from,
                                            lanesMask(count), passThru());
      };
      SmallVector<int64_t> even;
      for (int64_t lane = 0; lane < kLanes; ++lane)
        even.push_back(2 * lane);
      return vector::ShuffleOp::create(b, loc, half(0), half(kLanes), even);
    }
    if (access.laneStride != 1) {
      auto offsetsType = VectorType::get({kLanes}, b.getI32Type());
      SmallVector<int32_t> offsets;
      for (int64_t lane = 0; lane < kLanes; ++lane)
        offsets.push_back(lane * access.laneStride);
      Value laneOffsets = arith::ConstantOp::create(
          b, loc, offsetsType,
          DenseElementsAttr::get(offsetsType, ArrayRef(offsets)));
      return vector::GatherOp::create(
          b, loc, type, buffers[number], at, laneOffsets,
          mask ? mask : lanesMask(kLanes), passThru());
    }
    if (mask)
      return vector::MaskedLoadOp::create(b, loc, type, buffers[number], at,
                                          mask, passThru());
    return vector::LoadOp::create(b, loc, type, buffers[number], at);
  }

  /// The body on one chunk: the values it yields, as vectors. `outputs`
  /// holds the outputs' current values when they are kept in registers
  /// (empty: they are loaded).
  SmallVector<Value> computeChunk(OpBuilder &b, ValueRange loops,
                                  const Invariants &row, Value offset,
                                  Value mask, int64_t active,
                                  ValueRange outputs) {
    IRMapping scalars = row.scalars;          // uniform values
    DenseMap<Value, Value> lanes = row.lanes; // vectors and broadcasts
    auto laneValue = [&](Value value) -> Value {
      if (Value vector = lanes.lookup(value))
        return vector;
      if (auto indexOp = value.getDefiningOp<linalg::IndexOp>();
          indexOp && indexOp.getDim() == inner) {
        // offset, offset + 1, ... across the lanes.
        VectorType type = vectorType(b.getIndexType());
        Value positions = arith::AddIOp::create(
            b, loc, vector::BroadcastOp::create(b, loc, type, offset),
            vector::StepOp::create(b, loc, type));
        lanes[value] = positions;
        return positions;
      }
      Value scalar = scalars.lookupOrDefault(value);
      Value broadcast = vector::BroadcastOp::create(
          b, loc, vectorType(scalar.getType()), scalar);
      lanes[value] = broadcast;
      return broadcast;
    };
    for (OpOperand &operand : op->getOpOperands()) {
      BlockArgument arg = body->getArgument(operand.getOperandNumber());
      if (arg.use_empty() || !plan.accesses[arg.getArgNumber()].position)
        continue;
      if (op.isDpsInit(&operand) && !outputs.empty()) {
        lanes[arg] = outputs[operand.getOperandNumber() - op.getNumDpsInputs()];
        continue;
      }
      lanes[arg] = loadLanes(b, loops, operand, offset, mask, active);
    }
    for (Operation &bodyOp : body->without_terminator()) {
      if (auto indexOp = dyn_cast<linalg::IndexOp>(bodyOp)) {
        // The vector loop's index becomes the lanes' positions where a
        // lane-wise op uses it (laneValue); its scalar is for affine.apply
        // ops that take it without using it.
        scalars.map(indexOp, loopValue(b, loops, indexOp.getDim(), offset));
        continue;
      }
      if (plan.uniform.contains(bodyOp.getResult(0))) {
        b.clone(bodyOp, scalars);
        continue;
      }
      OperationState state(loc, bodyOp.getName());
      for (Value operand : bodyOp.getOperands())
        state.addOperands(laneValue(operand));
      for (Type type : bodyOp.getResultTypes())
        state.addTypes(vectorType(type));
      state.addAttributes(bodyOp.getAttrs());
      Operation *laneOp = b.create(state);
      for (auto [result, laneResult] :
           llvm::zip_equal(bodyOp.getResults(), laneOp->getResults()))
        lanes[result] = laneResult;
    }
    return llvm::map_to_vector(body->getTerminator()->getOperands(), laneValue);
  }

  void storeChunk(OpBuilder &b, ValueRange loops, Value offset, Value mask,
                  ValueRange values) {
    for (auto [value, init] :
         llvm::zip_equal(values, op.getDpsInitsMutable())) {
      SmallVector<Value> at = indices(b, loops, init, offset);
      Value buffer = buffers[init.getOperandNumber()];
      if (mask)
        vector::MaskedStoreOp::create(b, loc, buffer, at, mask, value);
      else
        vector::StoreOp::create(b, loc, value, buffer, at);
    }
  }

  /// Chunks whose outputs stay in registers through the reduction loops
  /// (the loops from `outer.size()` up to the vector loop).
  void accumulatingChunks(OpBuilder &b, ValueRange outer,
                          ArrayRef<Chunk> chunks) {
    unsigned inits = op.getNumDpsInits();
    SmallVector<Value> outputs;
    for (const Chunk &chunk : chunks)
      for (OpOperand &init : op.getDpsInitsMutable())
        outputs.push_back(
            loadLanes(b, outer, init, chunk.offset, chunk.mask, chunk.active));
    SmallVector<Value> lbs, ubs, steps;
    for (int64_t range :
         ArrayRef(ranges).slice(outer.size(), inner - outer.size())) {
      lbs.push_back(index(b, 0));
      ubs.push_back(index(b, range));
      steps.push_back(index(b, 1));
    }
    scf::LoopNest nest = scf::buildLoopNest(
        b, loc, lbs, ubs, steps, outputs,
        [&](OpBuilder &b, Location, ValueRange reductionLoops,
            ValueRange current) -> scf::ValueVector {
          SmallVector<Value> loops(outer);
          llvm::append_range(loops, reductionLoops);
          Invariants row = loadInvariants(b, loops);
          scf::ValueVector next;
          for (auto [number, chunk] : llvm::enumerate(chunks))
            llvm::append_range(
                next, computeChunk(b, loops, row, chunk.offset, chunk.mask,
                                   chunk.active,
                                   current.slice(number * inits, inits)));
          return next;
        });
    for (auto [number, chunk] : llvm::enumerate(chunks))
      storeChunk(b, outer, chunk.offset, chunk.mask,
                 ValueRange(nest.results).slice(number * inits, inits));
  }

  IRRewriter &rewriter;
  linalg::GenericOp op;
  const VectorPlan &plan;
  Location loc;
  Block *body;
  SmallVector<int64_t> ranges;
  unsigned inner;
  SmallVector<Value> buffers;
};

struct VectorizeElementwisePass
    : qat::impl::VectorizeElementwisePassBase<VectorizeElementwisePass> {
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
    SmallVector<linalg::GenericOp> generics;
    getOperation()->walk([&](linalg::GenericOp op) { generics.push_back(op); });
    SmallVector<std::pair<linalg::GenericOp, VectorPlan>> found;
    for (linalg::GenericOp op : generics) {
      linalg::GenericOp merged = mergeContiguousLoops(rewriter, op);
      if (std::optional<VectorPlan> plan = match(merged))
        found.emplace_back(merged, std::move(*plan));
    }
    for (auto &[op, plan] : found)
      Vectorizer(rewriter, op, plan).run();
  }
};

} // namespace
