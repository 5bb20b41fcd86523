//===- VectorizeTransposes.cpp - transposing copies as in-register tiles --===//
//
// Part of qat-mlir. The --qat-vectorize-transposes pass.
//
// --qat-vectorize-elementwise needs one loop that is contiguous in every
// operand; a transpose has two, one per side. Upstream's vectorizer would
// need the whole op as one static vector shape, and gathers measured slower
// than the scalar loops. A tile of rows loaded along the input's contiguous
// loop, transposed in registers (`vector.transpose`, which
// convert-vector-to-llvm lowers to shuffles) and stored along the output's,
// moves 16 elements per load and store. The transposes are lowered to
// shuffles here (upstream's 16x16 pattern, 64 two-source shuffles), before
// the canonicalizer could fold the tile's inserts and extracts into one
// element at a time.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "LoopUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qat {
#define GEN_PASS_DEF_VECTORIZETRANSPOSESPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Lanes of a full row: one zmm of f32.
constexpr int64_t kLanes = 16;
/// Shorter contiguous loops stay scalar (a tile would be mostly masked).
constexpr int64_t kMinExtent = 8;

/// A transposing op: the input is contiguous along one loop, the output
/// along another.
struct TransposePlan {
  /// The loop along which the input is contiguous: a tile's rows are
  /// loaded along it.
  unsigned inputLoop;
  /// The loop along which the output is contiguous: rows are stored along
  /// it.
  unsigned outputLoop;
  /// The dimension of each operand (input, output) that is contiguous;
  /// only unit dimensions follow it.
  unsigned inputDim, outputDim;
};

/// The last dimension of `type` longer than 1, if it has unit stride and
/// only unit dimensions follow it.
std::optional<unsigned> contiguousDim(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (type.getRank() == 0 || failed(type.getStridesAndOffset(strides, offset)))
    return std::nullopt;
  unsigned dim = type.getRank() - 1;
  while (dim > 0 && type.getDimSize(dim) == 1)
    --dim;
  if (strides[dim] != 1)
    return std::nullopt;
  return dim;
}

/// An all-parallel op on f32 buffers with one input and one output, both
/// read through permutations of the loops, whose contiguous dimensions are
/// on different loops of at least kMinExtent iterations, and whose body is
/// lane-wise (a copy, or an update such as `out + in`).
std::optional<TransposePlan> match(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 1 ||
      op.getNumDpsInits() != 1 ||
      op.getNumParallelLoops() != op.getNumLoops() || op.getNumLoops() < 2)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return std::nullopt;
  OpOperand *input = op.getDpsInputOperand(0);
  OpOperand *output = op.getDpsInitOperand(0);
  auto inputType = dyn_cast<MemRefType>(input->get().getType());
  auto outputType = dyn_cast<MemRefType>(output->get().getType());
  if (!inputType || !outputType || !inputType.getElementType().isF32() ||
      !outputType.getElementType().isF32())
    return std::nullopt;
  AffineMap inputMap = op.getMatchingIndexingMap(input);
  AffineMap outputMap = op.getMatchingIndexingMap(output);
  if (!inputMap.isPermutation() || !outputMap.isPermutation())
    return std::nullopt;
  std::optional<unsigned> inputDim = contiguousDim(inputType);
  std::optional<unsigned> outputDim = contiguousDim(outputType);
  if (!inputDim || !outputDim)
    return std::nullopt;
  TransposePlan plan{inputMap.getDimPosition(*inputDim),
                     outputMap.getDimPosition(*outputDim), *inputDim,
                     *outputDim};
  if (plan.inputLoop == plan.outputLoop ||
      ranges[plan.inputLoop] < kMinExtent ||
      ranges[plan.outputLoop] < kMinExtent)
    return std::nullopt;
  if (!llvm::all_of(op.getBody()->without_terminator(),
                    [](Operation &bodyOp) { return isLaneWise(bodyOp); }))
    return std::nullopt;
  return plan;
}

/// Rewrites one matched op into a loop nest over the other loops, then over
/// tiles of the output loop (rows of the tile) and of the input loop
/// (columns); full tiles first, then the tails under masks.
class TransposeVectorizer {
public:
  TransposeVectorizer(IRRewriter &rewriter, linalg::GenericOp op,
                      const TransposePlan &plan)
      : rewriter(rewriter), op(op), plan(plan), loc(op.getLoc()),
        ranges(op.getStaticLoopRanges()),
        inputMap(op.getMatchingIndexingMap(op.getDpsInputOperand(0))),
        outputMap(op.getMatchingIndexingMap(op.getDpsInitOperand(0))),
        // A loop of 8 takes 8-lane rows: a tile of 16 would be half mask.
        rowLanes(ranges[plan.inputLoop] <= 8 ? 8 : kLanes),
        tileRows(ranges[plan.outputLoop] <= 8 ? 8 : kLanes) {}

  void run() {
    rewriter.setInsertionPoint(op);
    input = collapseTrailingUnitDims(op.getDpsInputOperand(0)->get(),
                                     plan.inputDim);
    output = collapseTrailingUnitDims(op.getDpsInitOperand(0)->get(),
                                      plan.outputDim);
    SmallVector<unsigned> otherLoops;
    SmallVector<Value> lbs, ubs, steps;
    for (unsigned loop = 0; loop < ranges.size(); ++loop) {
      if (loop == plan.inputLoop || loop == plan.outputLoop)
        continue;
      otherLoops.push_back(loop);
      lbs.push_back(index(rewriter, 0));
      ubs.push_back(index(rewriter, ranges[loop]));
      steps.push_back(index(rewriter, 1));
    }
    scf::buildLoopNest(
        rewriter, loc, lbs, ubs, steps,
        [&](OpBuilder &b, Location, ValueRange outer) {
          SmallVector<Value> loops(ranges.size());
          for (auto [loop, value] : llvm::zip_equal(otherLoops, outer))
            loops[loop] = value;
          forEachTile(b, ranges[plan.outputLoop], tileRows,
                      [&](OpBuilder &b, Value rowStart, int64_t rows) {
                        loops[plan.outputLoop] = rowStart;
                        forEachTile(b, ranges[plan.inputLoop], rowLanes,
                                    [&](OpBuilder &b, Value columnStart,
                                        int64_t columns) {
                                      loops[plan.inputLoop] = columnStart;
                                      tile(b, loops, rows, columns);
                                    });
                      });
        });
    rewriter.eraseOp(op);
  }

private:
  using TileBuilder = function_ref<void(OpBuilder &, Value, int64_t)>;

  Value index(OpBuilder &b, int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }

  /// `buffer` with the unit dimensions after `dim` folded into it, so that
  /// a vector along `dim` runs along the last dimension.
  Value collapseTrailingUnitDims(Value buffer, unsigned dim) {
    auto type = cast<MemRefType>(buffer.getType());
    if (dim + 1 == type.getRank())
      return buffer;
    return memref::CollapseShapeOp::create(
        rewriter, loc, buffer,
        mergeDims(type.getRank(), dim, type.getRank() - dim));
  }

  /// Calls `build` for each tile of a loop of `extent` iterations: `size`
  /// at a time, then the rest.
  void forEachTile(OpBuilder &b, int64_t extent, int64_t size,
                   TileBuilder build) {
    int64_t fullEnd = extent - extent % size;
    if (fullEnd > 0)
      scf::ForOp::create(b, loc, index(b, 0), index(b, fullEnd), index(b, size),
                         ValueRange(),
                         [&](OpBuilder &b, Location, Value start, ValueRange) {
                           build(b, start, size);
                           scf::YieldOp::create(b, loc);
                         });
    if (fullEnd < extent)
      build(b, index(b, fullEnd), extent - fullEnd);
  }

  /// Indices into `buffer` (input or output, with `map` and contiguous
  /// dimension `dim`) at the loop values `loops`.
  static SmallVector<Value> indices(ArrayRef<Value> loops, AffineMap map,
                                    unsigned dim) {
    SmallVector<Value> result;
    for (unsigned position = 0; position <= dim; ++position)
      result.push_back(loops[map.getDimPosition(position)]);
    return result;
  }

  Value offsetBy(OpBuilder &b, Value start, int64_t offset) {
    if (offset == 0)
      return start;
    return arith::AddIOp::create(b, loc, start, index(b, offset));
  }

  /// Loads `lanes` elements of `buffer` from `at` into a vector of `width`
  /// lanes (the rest zero).
  Value loadRow(OpBuilder &b, Value buffer, ArrayRef<Value> at, int64_t width,
                int64_t lanes) {
    auto type = VectorType::get({width}, b.getF32Type());
    if (lanes == width)
      return vector::LoadOp::create(b, loc, type, buffer, at);
    Value zero = arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
    return vector::MaskedLoadOp::create(b, loc, type, buffer, at,
                                        mask(b, width, lanes), zero);
  }

  Value mask(OpBuilder &b, int64_t width, int64_t lanes) {
    return vector::ConstantMaskOp::create(
        b, loc, VectorType::get({width}, b.getI1Type()),
        ArrayRef<int64_t>{lanes});
  }

  /// One tile: `rows` input rows of `columns` elements, from the output
  /// loop's and the input loop's values in `loops`; transposed, each column
  /// is a row of the output.
  void tile(OpBuilder &b, SmallVector<Value> loops, int64_t rows,
            int64_t columns) {
    Value rowStart = loops[plan.outputLoop];
    Value columnStart = loops[plan.inputLoop];
    auto tileType = VectorType::get({tileRows, rowLanes}, b.getF32Type());
    Value tile =
        arith::ConstantOp::create(b, loc, tileType, b.getZeroAttr(tileType));
    for (int64_t row = 0; row < rows; ++row) {
      loops[plan.outputLoop] = offsetBy(b, rowStart, row);
      Value values = loadRow(b, input, indices(loops, inputMap, plan.inputDim),
                             rowLanes, columns);
      tile = vector::InsertOp::create(b, loc, values, tile, row);
    }
    loops[plan.outputLoop] = rowStart;
    Value transposed = vector::TransposeOp::create(b, loc, tile, {1, 0});
    Block *body = op.getBody();
    for (int64_t column = 0; column < columns; ++column) {
      loops[plan.inputLoop] = offsetBy(b, columnStart, column);
      SmallVector<Value> at = indices(loops, outputMap, plan.outputDim);
      IRMapping lanes;
      lanes.map(body->getArgument(0),
                vector::ExtractOp::create(b, loc, transposed, column));
      if (!body->getArgument(1).use_empty())
        lanes.map(body->getArgument(1), loadRow(b, output, at, tileRows, rows));
      Value result = computeLanes(b, lanes);
      if (rows == tileRows)
        vector::StoreOp::create(b, loc, result, output, at);
      else
        vector::MaskedStoreOp::create(b, loc, output, at,
                                      mask(b, tileRows, rows), result);
    }
  }

  /// The body on one output row (`lanes` maps the block arguments to
  /// vectors); values from outside the body are broadcast.
  Value computeLanes(OpBuilder &b, IRMapping &lanes) {
    Block *body = op.getBody();
    auto laneValue = [&](Value value) -> Value {
      if (Value vector = lanes.lookupOrNull(value))
        return vector;
      Value broadcast = vector::BroadcastOp::create(
          b, loc, VectorType::get({tileRows}, value.getType()), value);
      lanes.map(value, broadcast);
      return broadcast;
    };
    for (Operation &bodyOp : body->without_terminator()) {
      OperationState state(loc, bodyOp.getName());
      for (Value operand : bodyOp.getOperands())
        state.addOperands(laneValue(operand));
      for (Type type : bodyOp.getResultTypes())
        state.addTypes(VectorType::get({tileRows}, type));
      state.addAttributes(bodyOp.getAttrs());
      Operation *laneOp = b.create(state);
      lanes.map(bodyOp.getResults(), laneOp->getResults());
    }
    return laneValue(body->getTerminator()->getOperand(0));
  }

  IRRewriter &rewriter;
  linalg::GenericOp op;
  const TransposePlan &plan;
  Location loc;
  SmallVector<int64_t> ranges;
  AffineMap inputMap, outputMap;
  /// Lanes of a loaded row (along the input loop) and rows of a tile
  /// (along the output loop): a tile is rows x rowLanes, and its transpose
  /// rowLanes output rows of tileRows lanes.
  int64_t rowLanes, tileRows;
  Value input, output;
};

struct VectorizeTransposesPass
    : qat::impl::VectorizeTransposesPassBase<VectorizeTransposesPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::TransposeOp> named;
    getOperation()->walk([&](linalg::TransposeOp op) {
      if (op.hasPureBufferSemantics())
        named.push_back(op);
    });
    for (linalg::TransposeOp op : named) {
      rewriter.setInsertionPoint(op);
      (void)linalg::generalizeNamedOp(rewriter, op);
    }
    SmallVector<std::pair<linalg::GenericOp, TransposePlan>> found;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (std::optional<TransposePlan> plan = match(op))
        found.emplace_back(op, *plan);
    });
    for (auto &[op, plan] : found)
      TransposeVectorizer(rewriter, op, plan).run();
    if (found.empty())
      return;
    RewritePatternSet patterns(&getContext());
    vector::populateVectorTransposeLoweringPatterns(
        patterns, vector::VectorTransposeLowering::Shuffle16x16);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
