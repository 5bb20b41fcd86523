//===- LowerMmt4d.cpp - mmt4d as register-blocked microkernels ------------===//
//
// Part of qat-mlir. The --qat-lower-mmt4d pass. Upstream's vectorizer
// turns linalg.mmt4d into vector.contract, whose lowering cannot produce
// vpdpbusd (x86vector has only the signed-by-signed vpdpbssd, which AMD
// Zen 4 lacks); the microkernel is therefore written here with the LLVM
// intrinsic, around upstream's packed layout.
//
//===----------------------------------------------------------------------===//

#include "AccumulatorFills.h"

#include "qat/Codegen/CPU/Passes.h"
#include "qat/Codegen/CPU/Targets.h"
#include "qat/Dialect/Qat/Utils/TosaBuilders.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERMMT4DPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

using qat::Int8Dot;
using qat::Int8Microkernel;

/// The shapes of an mmt4d that a microkernel handles.
struct Tiles {
  int64_t m1, n1, k1, m0;
};

/// An mmt4d's operands on buffers, when all three have static shapes.
struct Operands {
  MemRefType lhs, rhs, out;
};

std::optional<Operands> staticOperands(linalg::Mmt4DOp op) {
  if (!op.hasPureBufferSemantics())
    return std::nullopt;
  auto lhs = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto rhs = dyn_cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto out = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!lhs || !rhs || !out || !lhs.hasStaticShape() || !rhs.hasStaticShape() ||
      !out.hasStaticShape())
    return std::nullopt;
  return Operands{lhs, rhs, out};
}

std::optional<Tiles> matchTiles(linalg::Mmt4DOp op,
                                const Int8Microkernel &kernel) {
  std::optional<Operands> operands = staticOperands(op);
  if (!operands)
    return std::nullopt;
  auto [lhs, rhs, out] = *operands;
  if (!lhs.getLayout().isIdentity() || !rhs.getLayout().isIdentity() ||
      !out.getLayout().isIdentity() ||
      !lhs.getElementType().isInteger(kernel.lhsBits) ||
      !rhs.getElementType().isInteger(8) || !out.getElementType().isInteger(32))
    return std::nullopt;
  ArrayRef<int64_t> l = lhs.getShape(), r = rhs.getShape();
  if (l[3] != kernel.depth || r[3] != kernel.depth || r[2] != kernel.lanes)
    return std::nullopt;
  // mmt4d's body extends both operands to i32 with sign: the dot
  // instructions' contract (after the RHS flip for vpdpbusd).
  return Tiles{l[0], r[0], l[1], l[2]};
}

/// f32 tiles: LHS M0 x 1, RHS 16 x 1 (one vector of 16 lanes per step
/// along K), accumulators M0 x 16. Operands may be views (a thread's slice
/// of M1) as long as each tile is contiguous.
constexpr int64_t kFloatLanes = qat::kFloatMmt4dLanes;
/// Steps along K per block of the f32 microkernel: 256 rows of a K-major
/// RHS of 144 columns (the small CNN's weight gradient) are 144 KB, well
/// inside a Zen 4 core's 1 MB L2.
constexpr int64_t kFloatDepthBlock = 256;

std::optional<Tiles> matchFloatTiles(linalg::Mmt4DOp op) {
  std::optional<Operands> operands = staticOperands(op);
  if (!operands)
    return std::nullopt;
  auto [lhs, rhs, out] = *operands;
  if (!lhs.getElementType().isF32() || !rhs.getElementType().isF32() ||
      !out.getElementType().isF32())
    return std::nullopt;
  ArrayRef<int64_t> l = lhs.getShape(), r = rhs.getShape();
  if (l[3] != 1 || r[3] != 1 || r[2] != kFloatLanes ||
      out.getShape()[3] != kFloatLanes || !out.isLastDimUnitStride() ||
      !memref::CollapseShapeOp::isGuaranteedCollapsible(
          rhs, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}}))
    return std::nullopt;
  return Tiles{l[0], r[0], l[1], l[2]};
}

/// The zero fill of the product's accumulator. --qat-fold-mmt4d-packs'
/// products accumulate into a transposed view: the fill is of the
/// untransposed buffer, the same elements.
linalg::FillOp zeroFillOfAccumulator(linalg::Mmt4DOp product) {
  Value out = product.getDpsInits()[0];
  if (auto view = out.getDefiningOp<memref::TransposeOp>())
    out = view.getIn();
  return qat::zeroFillOfAccumulator(product, out);
}

/// The loops of mmt4d, (m1, n1, k1, m0, n0, k0), that index each operand,
/// in the order of its dimensions.
constexpr std::array<std::array<unsigned, 4>, 3> kMmt4dOperandLoops = {{
    {0, 2, 3, 5}, // lhs[m1, k1, m0, k0]
    {1, 2, 4, 5}, // rhs[n1, k1, n0, k0]
    {0, 1, 3, 4}, // out[m1, n1, m0, n0]
}};

/// For each operand of a generic with mmt4d's loops, iterators and f32
/// multiply-add body whose maps permute mmt4d's (--qat-fold-mmt4d-packs'
/// products): the permutation that gives mmt4d's layout, or nullopt.
std::optional<std::array<SmallVector<int64_t>, 3>>
matchTransposedMmt4d(linalg::GenericOp op) {
  using utils::IteratorType;
  const IteratorType p = IteratorType::parallel, r = IteratorType::reduction;
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 ||
      op.getIteratorTypesArray() !=
          SmallVector<IteratorType>{p, p, r, p, p, r} ||
      !qat::builders::isMulAdd(op))
    return std::nullopt;
  std::array<SmallVector<int64_t>, 3> permutations;
  for (auto [operand, loops] :
       llvm::zip_equal(op->getOpOperands(), kMmt4dOperandLoops)) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!type || !type.getElementType().isF32() ||
        !map.isProjectedPermutation() || map.getNumResults() != loops.size())
      return std::nullopt;
    SmallVector<int64_t> &permutation =
        permutations[operand.getOperandNumber()];
    for (unsigned loop : loops) {
      std::optional<unsigned> dim =
          map.getResultPosition(getAffineDimExpr(loop, op.getContext()));
      if (!dim)
        return std::nullopt;
      permutation.push_back(*dim);
    }
  }
  return permutations;
}

/// linalg.mmt4d on `memref.transpose` views of the generic's operands.
void rewriteAsMmt4d(OpBuilder &b, linalg::GenericOp op,
                    ArrayRef<SmallVector<int64_t>> permutations) {
  SmallVector<Value> views;
  for (auto [operand, permutation] :
       llvm::zip_equal(op->getOperands(), permutations)) {
    auto map = AffineMap::getPermutationMap(
        llvm::to_vector_of<unsigned>(permutation), b.getContext());
    views.push_back(map.isIdentity()
                        ? operand
                        : memref::TransposeOp::create(b, op.getLoc(), operand,
                                                      AffineMapAttr::get(map))
                              .getResult());
  }
  linalg::Mmt4DOp::create(b, op.getLoc(), TypeRange{},
                          ValueRange{views[0], views[1]}, ValueRange{views[2]});
}

/// Row m0 of the LHS tile [m1, k1] (collapsed to M1 x K1 x M0*K0): its K0
/// values, 32 bits together, broadcast to every i32 lane and viewed as
/// `type` (the dot instruction's operand).
Value broadcastLhsRow(OpBuilder &b, Location loc, Value lhs, Value m1, Value k1,
                      int64_t m0, const Int8Microkernel &kernel,
                      VectorType type) {
  Type element = cast<MemRefType>(lhs.getType()).getElementType();
  Value values = vector::LoadOp::create(
      b, loc, VectorType::get({kernel.depth}, element), lhs,
      ValueRange{m1, k1,
                 arith::ConstantIndexOp::create(b, loc, m0 * kernel.depth)});
  Type i32 = b.getI32Type();
  Value word =
      vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), values);
  Value splat =
      vector::BroadcastOp::create(b, loc, VectorType::get({kernel.lanes}, i32),
                                  vector::ExtractOp::create(b, loc, word, 0));
  return vector::BitCastOp::create(b, loc, type, splat);
}

/// body(n1, count) for the RHS panels: groups of `panels` from 0 in a loop,
/// then an odd last panel alone, also in a loop (so that values it computes
/// stay inside the loop nest --qat-outline-kernels outlines whole).
using PanelGroupBuilder =
    function_ref<void(OpBuilder &, Location, Value, int64_t)>;
void forEachPanelGroup(OpBuilder &b, Location loc, int64_t n1s, int64_t panels,
                       PanelGroupBuilder body) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  int64_t grouped = n1s - n1s % panels;
  auto loop = [&](int64_t from, int64_t to, int64_t count) {
    scf::ForOp::create(b, loc, index(from), index(to), index(count),
                       ValueRange{},
                       [&](OpBuilder &b, Location loc, Value n1, ValueRange) {
                         body(b, loc, n1, count);
                         scf::YieldOp::create(b, loc);
                       });
  };
  if (grouped > 0)
    loop(0, grouped, panels);
  if (grouped < n1s)
    loop(grouped, n1s, 1);
}

/// The register-blocked K loop of the int8 kernels: accumulators `init`
/// (panel-major: j * rows + m0) over k1 in [0, k1s); per step each panel's
/// RHS operand and, per row, the LHS operand and `dot`; the sums stored to
/// out[m1, columns[j], m0].
struct Int8Steps {
  function_ref<Value(OpBuilder &, Value, Value)> rhsOperand;   // (column, k1)
  function_ref<Value(OpBuilder &, Value, int64_t)> lhsOperand; // (k1, m0)
  function_ref<Value(OpBuilder &, Value, Value, Value)> dot; // (acc, rhs, lhs)
};
void accumulatePanels(OpBuilder &b, Location loc, Value out, Value m1,
                      ArrayRef<Value> columns, int64_t rows, int64_t k1s,
                      ArrayRef<Value> init, const Int8Steps &steps) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto loop = scf::ForOp::create(
      b, loc, index(0), index(k1s), index(1), init,
      [&](OpBuilder &b, Location loc, Value k1, ValueRange accs) {
        SmallVector<Value> operands;
        for (Value column : columns)
          operands.push_back(steps.rhsOperand(b, column, k1));
        SmallVector<Value> next(accs.begin(), accs.end());
        for (int64_t m0 = 0; m0 < rows; ++m0) {
          Value row = steps.lhsOperand(b, k1, m0);
          for (auto [j, w] : llvm::enumerate(operands))
            next[j * rows + m0] = steps.dot(b, accs[j * rows + m0], w, row);
        }
        scf::YieldOp::create(b, loc, next);
      });
  for (auto [j, column] : llvm::enumerate(columns))
    for (int64_t m0 = 0; m0 < rows; ++m0)
      vector::StoreOp::create(b, loc, loop.getResult(j * rows + m0), out,
                              ValueRange{m1, column, index(m0), index(0)});
}

struct LowerMmt4dPass : qat::impl::LowerMmt4dPassBase<LowerMmt4dPass> {
  using Base::Base;

  void runOnOperation() override {
    std::string invalid =
        qat::invalidVectorRegisters(vectorBits, vectorRegisters);
    if (!invalid.empty()) {
      getOperation()->emitError("--qat-lower-mmt4d: ") << invalid;
      return signalPassFailure();
    }
    const Int8Microkernel *target = qat::lookupInt8Microkernel(isa);
    if (!isa.empty() && !target) {
      getOperation()->emitError("--qat-lower-mmt4d: unknown isa '")
          << isa << "' (" << qat::int8MicrokernelNames() << ")";
      return signalPassFailure();
    }
    SmallVector<
        std::pair<linalg::GenericOp, std::array<SmallVector<int64_t>, 3>>>
        transposed;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (auto permutations = matchTransposedMmt4d(op))
        transposed.push_back({op, std::move(*permutations)});
    });
    for (auto &[op, permutations] : transposed) {
      OpBuilder b(op);
      rewriteAsMmt4d(b, op, permutations);
      op.erase();
    }
    const Int8Microkernel *pairs =
        target ? qat::provenPairsKernel(*target) : nullptr;
    SmallVector<std::pair<linalg::Mmt4DOp, Tiles>> ops, pairOps, floatOps;
    getOperation()->walk([&](linalg::Mmt4DOp op) {
      if (std::optional<Tiles> tiles =
              pairs && op->hasAttr(qat::kPairsProvenAttr)
                  ? matchTiles(op, *pairs)
                  : std::nullopt)
        pairOps.push_back({op, *tiles});
      else if (std::optional<Tiles> tiles =
                   target ? matchTiles(op, *target) : std::nullopt)
        ops.push_back({op, *tiles});
      else if (std::optional<Tiles> tiles = matchFloatTiles(op))
        floatOps.push_back({op, *tiles});
    });
    for (auto [op, tiles] : ops) {
      OpBuilder b(op);
      lowerToDots(b, op, tiles, *target);
      op.erase();
    }
    for (auto [op, tiles] : pairOps) {
      OpBuilder b(op);
      lowerToSaturatingPairs(b, op, tiles, *pairs);
      op.erase();
    }
    for (auto [op, tiles] : floatOps) {
      linalg::FillOp fill = zeroFillOfAccumulator(op);
      if (fill)
        qat::eraseFill(fill);
      OpBuilder b(op);
      lowerToFmas(b, op, tiles, /*fromZero=*/static_cast<bool>(fill),
                  vectorBits, vectorRegisters);
      op.erase();
    }
  }

  /// for each block of kFloatDepthBlock steps along K:
  ///   for m1, for n1 (two panels at a time, then one; n1 outside m1 when
  ///   the RHS is the larger operand):
  ///     acc[m0] = out[m1, n1, m0] (0 in the first block `fromZero`)
  ///     for k1 in the block:
  ///       acc[m0] = fma(broadcast(lhs[m1, k1, m0]), rhs[n1, k1], acc[m0])
  ///     out[m1, n1, m0] = acc[m0]
  /// Each output sums K in order, one fused multiply-add per term; the
  /// blocks only split where the sum goes through memory.
  static void lowerToFmas(OpBuilder &b, linalg::Mmt4DOp op, Tiles tiles,
                          bool fromZero, unsigned vectorBits,
                          unsigned vectorRegisters) {
    Location loc = op.getLoc();
    auto lanes = VectorType::get({kFloatLanes}, b.getF32Type());
    auto index = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value lhs = op.getDpsInputs()[0];
    Value rhs = memref::CollapseShapeOp::create(
        b, loc, op.getDpsInputs()[1],
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value out = op.getDpsInits()[0];
    Value zero = index(0), one = index(1);

    // `panels` adjacent RHS panels from n1 on: panels * M0 accumulators,
    // over K from kBegin to kEnd, starting from zero or from `out`.
    Value kBegin, kEnd;
    bool blockFromZero = false;
    Value zeros = fromZero ? arith::ConstantOp::create(b, loc, lanes,
                                                       b.getZeroAttr(lanes))
                           : Value();
    // Registers per 16-lane vector (two ymm with AVX2).
    int64_t registersPerVector =
        llvm::divideCeil(kFloatLanes * 32, std::max(vectorBits, 128u));
    auto block = [&](OpBuilder &b, Location loc, Value m1, Value n1,
                     int64_t panels) {
      SmallVector<Value> columns{n1};
      for (int64_t j = 1; j < panels; ++j)
        columns.push_back(arith::AddIOp::create(b, loc, n1, index(j)));
      // Rows whose accumulators, the panels' RHS vectors and a broadcast
      // fit the registers; equal groups of them.
      int64_t perRow = panels * registersPerVector;
      int64_t fit = std::max<int64_t>(
          1, (int64_t(vectorRegisters) - perRow - 1) / perRow);
      int64_t groups = llvm::divideCeil(tiles.m0, fit);
      int64_t groupRows = llvm::divideCeil(tiles.m0, groups);
      for (int64_t first = 0; first < tiles.m0; first += groupRows) {
        int64_t rows = std::min(groupRows, tiles.m0 - first);
        SmallVector<Value> init;
        for (Value column : columns)
          for (int64_t r = 0; r < rows; ++r)
            init.push_back(
                blockFromZero
                    ? zeros
                    : vector::LoadOp::create(
                          b, loc, lanes, out,
                          ValueRange{m1, column, index(first + r), zero}));
        auto loop = scf::ForOp::create(
            b, loc, kBegin, kEnd, one, init,
            [&](OpBuilder &b, Location loc, Value k1, ValueRange accs) {
              SmallVector<Value> weights;
              for (Value column : columns)
                weights.push_back(vector::LoadOp::create(
                    b, loc, lanes, rhs, ValueRange{column, k1, zero}));
              SmallVector<Value> next(accs.begin(), accs.end());
              for (int64_t r = 0; r < rows; ++r) {
                Value a = memref::LoadOp::create(
                    b, loc, lhs, ValueRange{m1, k1, index(first + r), zero});
                Value row = vector::BroadcastOp::create(b, loc, lanes, a);
                for (auto [j, w] : llvm::enumerate(weights))
                  next[j * rows + r] =
                      vector::FMAOp::create(b, loc, row, w, accs[j * rows + r]);
              }
              scf::YieldOp::create(b, loc, next);
            });
        for (auto [j, column] : llvm::enumerate(columns))
          for (int64_t r = 0; r < rows; ++r)
            vector::StoreOp::create(
                b, loc, loop.getResult(j * rows + r), out,
                ValueRange{m1, column, index(first + r), zero});
      }
    };

    using LhsPanelBuilder = function_ref<void(OpBuilder &, Location, Value)>;
    using RhsGroupBuilder =
        function_ref<void(OpBuilder &, Location, Value, int64_t)>;
    // Every LHS panel m1.
    auto forEachLhsPanel = [&](OpBuilder &b, Location loc,
                               LhsPanelBuilder build) {
      scf::ForOp::create(b, loc, zero, index(tiles.m1), one, ValueRange{},
                         [&](OpBuilder &b, Location loc, Value m1, ValueRange) {
                           build(b, loc, m1);
                           scf::YieldOp::create(b, loc);
                         });
    };
    // Every RHS panel: pairs from n1, then the odd last one alone.
    int64_t pairs = tiles.n1 / 2;
    auto forEachRhsGroup = [&](OpBuilder &b, Location loc,
                               RhsGroupBuilder build) {
      if (pairs > 0)
        scf::ForOp::create(
            b, loc, zero, index(2 * pairs), index(2), ValueRange{},
            [&](OpBuilder &b, Location loc, Value n1, ValueRange) {
              build(b, loc, n1, 2);
              scf::YieldOp::create(b, loc);
            });
      if (tiles.n1 % 2)
        build(b, loc, index(tiles.n1 - 1), 1);
    };
    // The outer loop walks the larger operand once; the smaller one is
    // read again for each of its panels, from the cache.
    bool rhsIsLarger = tiles.n1 * kFloatLanes > tiles.m1 * tiles.m0;
    auto panels = [&](OpBuilder &b, Location loc) {
      if (rhsIsLarger)
        forEachRhsGroup(
            b, loc, [&](OpBuilder &b, Location loc, Value n1, int64_t count) {
              forEachLhsPanel(b, loc,
                              [&](OpBuilder &b, Location loc, Value m1) {
                                block(b, loc, m1, n1, count);
                              });
            });
      else
        forEachLhsPanel(b, loc, [&](OpBuilder &b, Location loc, Value m1) {
          forEachRhsGroup(b, loc,
                          [&](OpBuilder &b, Location loc, Value n1,
                              int64_t count) { block(b, loc, m1, n1, count); });
        });
    };
    // A long K (a weight gradient's N*OH*OW) in blocks: each block of both
    // operands is read from the cache by every panel, not from memory. The
    // first block is apart when it starts from zero.
    int64_t firstBlock = 0;
    if (fromZero || tiles.k1 <= kFloatDepthBlock) {
      kBegin = zero;
      kEnd = index(std::min(tiles.k1, kFloatDepthBlock));
      blockFromZero = fromZero;
      panels(b, loc);
      blockFromZero = false;
      firstBlock = kFloatDepthBlock;
    }
    if (tiles.k1 <= firstBlock)
      return;
    scf::ForOp::create(
        b, loc, index(firstBlock), index(tiles.k1), index(kFloatDepthBlock),
        ValueRange{}, [&](OpBuilder &b, Location loc, Value k, ValueRange) {
          kBegin = k;
          kEnd = arith::MinSIOp::create(
              b, loc, arith::AddIOp::create(b, loc, k, index(kFloatDepthBlock)),
              index(tiles.k1));
          panels(b, loc);
          scf::YieldOp::create(b, loc);
        });
  }

  /// for m1: comp[m0] = sum_k1 vpdpbusd(0, 0x80.., broadcast(lhs[m1, k1, m0]))
  ///   for n1 (groups of as many panels as the registers hold, then the
  ///   rest one at a time):
  ///     acc[m0] = out[m1, n1, m0] - comp[m0]
  ///     for k1: w = rhs[n1, k1] ^ 0x80
  ///             acc[m0] = vpdpbusd(acc[m0], w, broadcast(lhs[m1, k1, m0]))
  ///     out[m1, n1, m0] = acc[m0]
  /// The RHS tile is the unsigned operand (flipped once per step, shared by
  /// the M0 rows) so that the LHS broadcasts fold into vpdpbusd as memory
  /// operands; the surplus 128 * sum_k lhs[m][k] is per row, once per LHS
  /// panel.
  /// With a signed-by-signed instruction (sdot) there is no flip and no
  /// surplus: acc[m0] = sdot(acc[m0], rhs[n1, k1], broadcast(lhs[...])).
  /// With AVX2's vpmaddwd the RHS bytes are sign-extended to 16 bits (from
  /// memory: vpmovsxbw), the 16-bit LHS pairs broadcast, and
  /// acc[m0] += vpmaddwd(broadcast(lhs[m1, k1, m0]), w16).
  static void lowerToDots(OpBuilder &b, linalg::Mmt4DOp op, Tiles tiles,
                          const Int8Microkernel &kernel) {
    Location loc = op.getLoc();
    bool mixedSign = kernel.dot == Int8Dot::UnsignedBySigned;
    bool widened = kernel.dot == Int8Dot::Widened16;
    Type i8 = b.getI8Type(), i32 = b.getI32Type();
    Type lhsElement = b.getIntegerType(kernel.lhsBits);
    // One step's operands: lanes x depth values, bytes or widened to the
    // LHS's 16 bits.
    auto rhsBytes = VectorType::get({kernel.lanes * kernel.depth}, i8);
    auto operands = VectorType::get({kernel.lanes * kernel.depth}, lhsElement);
    auto words = VectorType::get({kernel.lanes}, i32);
    StringAttr intrinsic = b.getStringAttr(kernel.intrinsic);
    auto dot = [&](OpBuilder &b, Value acc, Value rhsOperand,
                   Value lhsBroadcast) -> Value {
      if (widened) {
        Value pairs =
            LLVM::CallIntrinsicOp::create(b, loc, words, intrinsic,
                                          ValueRange{lhsBroadcast, rhsOperand})
                .getResult(0);
        return arith::AddIOp::create(b, loc, acc, pairs);
      }
      return LLVM::CallIntrinsicOp::create(
                 b, loc, words, intrinsic,
                 ValueRange{acc, rhsOperand, lhsBroadcast})
          .getResult(0);
    };
    auto index = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    // An LHS row's K0 values (32 bits) as one i32, broadcast to every lane.
    Value lhs = memref::CollapseShapeOp::create(
        b, loc, op.getDpsInputs()[0],
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    auto broadcastRow = [&](OpBuilder &b, Value m1, Value k1, int64_t m0) {
      return broadcastLhsRow(b, loc, lhs, m1, k1, m0, kernel, operands);
    };
    // An RHS tile's lanes x depth bytes are contiguous.
    Value rhs = memref::CollapseShapeOp::create(
        b, loc, op.getDpsInputs()[1],
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value out = op.getDpsInits()[0];
    Value zero = index(0), one = index(1);
    // vpdpbusd's sign flip and its surplus' initial value.
    Value zeroWords, signBits;
    if (mixedSign) {
      zeroWords = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(words, b.getI32IntegerAttr(0)));
      signBits = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(rhsBytes, b.getI8IntegerAttr(-128)));
    }
    auto rhsOperand = [&](OpBuilder &b, Value n1, Value k1) -> Value {
      Value w = vector::LoadOp::create(b, loc, rhsBytes, rhs,
                                       ValueRange{n1, k1, zero});
      if (mixedSign)
        return arith::XOrIOp::create(b, loc, w, signBits);
      if (widened)
        return arith::ExtSIOp::create(b, loc, operands, w);
      return w;
    };
    // Panels per step: rows x panels accumulators, the panels' RHS vectors
    // and one broadcast in registers.
    int64_t panels = 2;
    if (tiles.m0 * panels + panels + 1 > kernel.registers)
      panels = 1;

    scf::ForOp::create(
        b, loc, zero, index(tiles.m1), one, ValueRange{},
        [&](OpBuilder &b, Location loc, Value m1, ValueRange) {
          // 128 * sum_k lhs[m][k] for each row m of the panel (mixed sign).
          SmallVector<Value> comps;
          if (mixedSign) {
            SmallVector<Value> zeros(tiles.m0, zeroWords);
            auto loop = scf::ForOp::create(
                b, loc, zero, index(tiles.k1), one, zeros,
                [&](OpBuilder &b, Location loc, Value k1, ValueRange acc) {
                  SmallVector<Value> next;
                  for (int64_t m0 = 0; m0 < tiles.m0; ++m0)
                    next.push_back(
                        dot(b, acc[m0], signBits, broadcastRow(b, m1, k1, m0)));
                  scf::YieldOp::create(b, loc, next);
                });
            comps.assign(loop.getResults().begin(), loop.getResults().end());
          }
          // `count` adjacent RHS panels from n1: count * M0 accumulators
          // share each LHS broadcast.
          forEachPanelGroup(
              b, loc, tiles.n1, panels,
              [&](OpBuilder &b, Location loc, Value n1, int64_t count) {
                SmallVector<Value> columns{n1};
                for (int64_t j = 1; j < count; ++j)
                  columns.push_back(
                      arith::AddIOp::create(b, loc, n1, index(j)));
                SmallVector<Value> init;
                for (Value column : columns)
                  for (int64_t m0 = 0; m0 < tiles.m0; ++m0) {
                    Value c = vector::LoadOp::create(
                        b, loc, words, out,
                        ValueRange{m1, column, index(m0), zero});
                    init.push_back(
                        mixedSign ? arith::SubIOp::create(b, loc, c, comps[m0])
                                  : c);
                  }
                accumulatePanels(b, loc, out, m1, columns, tiles.m0, tiles.k1,
                                 init,
                                 {rhsOperand,
                                  [&](OpBuilder &b, Value k1, int64_t m0) {
                                    return broadcastRow(b, m1, k1, m0);
                                  },
                                  dot});
              });
          scf::YieldOp::create(b, loc);
        });
  }

  /// AVX2's vpmaddubsw kernel, on products proven not to saturate
  /// (kPairsProvenAttr):
  /// for n1 (two panels at a time, then the odd last one alone):
  ///   comp[j] = sum_k1 vpmaddwd(vpmaddubsw(0x80.., rhs[n1 + j, k1]), 1)
  ///   for m1:
  ///     acc[j][m0] = out[m1, n1 + j, m0] - comp[j]
  ///     for k1: for m0: u = broadcast(lhs[m1, k1, m0]) ^ 0x80
  ///       acc[j][m0] += vpmaddwd(vpmaddubsw(u, rhs[n1 + j, k1]), 1)
  ///     out[m1, n1 + j, m0] = acc[j][m0]
  /// vpmaddubsw multiplies unsigned by signed bytes: the LHS bytes flipped
  /// to unsigned are lhs + 128, and the surplus 128 * sum_k rhs[n][k] (per
  /// column: computed once per RHS panel, exactly: a pair's 128 * (w0 + w1)
  /// fits i16) is subtracted. The pair sums of u * w are exact where the
  /// producer proved them so; vpmaddwd with ones adds the two pairs of a
  /// lane into i32 exactly.
  static void lowerToSaturatingPairs(OpBuilder &b, linalg::Mmt4DOp op,
                                     Tiles tiles,
                                     const Int8Microkernel &kernel) {
    Location loc = op.getLoc();
    Type i8 = b.getI8Type(), i16 = b.getI16Type(), i32 = b.getI32Type();
    auto bytes = VectorType::get({kernel.lanes * kernel.depth}, i8);
    auto halves = VectorType::get({kernel.lanes * 2}, i16);
    auto words = VectorType::get({kernel.lanes}, i32);
    StringAttr maddubs = b.getStringAttr(kernel.intrinsic);
    StringAttr maddwd = b.getStringAttr("llvm.x86.avx2.pmadd.wd");
    auto index = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value ones = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(halves, b.getI16IntegerAttr(1)));
    Value signBits = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(bytes, b.getI8IntegerAttr(-128)));
    Value zeroWords = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(words, b.getI32IntegerAttr(0)));
    // sum over each lane's 4 products of u * w, in i32.
    auto dot = [&](OpBuilder &b, Value acc, Value u, Value w) -> Value {
      Value pairs = LLVM::CallIntrinsicOp::create(b, loc, halves, maddubs,
                                                  ValueRange{u, w})
                        .getResult(0);
      Value quads = LLVM::CallIntrinsicOp::create(b, loc, words, maddwd,
                                                  ValueRange{pairs, ones})
                        .getResult(0);
      return arith::AddIOp::create(b, loc, acc, quads);
    };
    Value lhs = memref::CollapseShapeOp::create(
        b, loc, op.getDpsInputs()[0],
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value rhs = memref::CollapseShapeOp::create(
        b, loc, op.getDpsInputs()[1],
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value out = op.getDpsInits()[0];
    Value zero = index(0), one = index(1);
    auto unsignedRow = [&](OpBuilder &b, Value m1, Value k1, int64_t m0) {
      Value row = broadcastLhsRow(b, loc, lhs, m1, k1, m0, kernel, bytes);
      return arith::XOrIOp::create(b, loc, row, signBits).getResult();
    };
    auto rhsTile = [&](OpBuilder &b, Value n1, Value k1) -> Value {
      return vector::LoadOp::create(b, loc, bytes, rhs,
                                    ValueRange{n1, k1, zero});
    };

    auto block = [&](OpBuilder &b, Location loc, Value n1, int64_t count) {
      SmallVector<Value> columns{n1};
      for (int64_t j = 1; j < count; ++j)
        columns.push_back(arith::AddIOp::create(b, loc, n1, index(j)));
      // 128 * sum_k rhs[n][k] per lane, once per panel.
      auto surplus = scf::ForOp::create(
          b, loc, zero, index(tiles.k1), one,
          SmallVector<Value>(count, zeroWords),
          [&](OpBuilder &b, Location loc, Value k1, ValueRange acc) {
            SmallVector<Value> next;
            for (auto [j, column] : llvm::enumerate(columns))
              next.push_back(dot(b, acc[j], signBits, rhsTile(b, column, k1)));
            scf::YieldOp::create(b, loc, next);
          });
      scf::ForOp::create(
          b, loc, zero, index(tiles.m1), one, ValueRange{},
          [&](OpBuilder &b, Location loc, Value m1, ValueRange) {
            SmallVector<Value> init;
            for (auto [j, column] : llvm::enumerate(columns))
              for (int64_t m0 = 0; m0 < tiles.m0; ++m0)
                init.push_back(arith::SubIOp::create(
                    b, loc,
                    vector::LoadOp::create(
                        b, loc, words, out,
                        ValueRange{m1, column, index(m0), zero}),
                    surplus.getResult(j)));
            accumulatePanels(b, loc, out, m1, columns, tiles.m0, tiles.k1, init,
                             {rhsTile,
                              [&](OpBuilder &b, Value k1, int64_t m0) {
                                return unsignedRow(b, m1, k1, m0);
                              },
                              [&](OpBuilder &b, Value acc, Value w, Value u) {
                                return dot(b, acc, u, w);
                              }});
            scf::YieldOp::create(b, loc);
          });
    };
    int64_t panels = tiles.m0 * 2 + 2 + 4 <= kernel.registers ? 2 : 1;
    forEachPanelGroup(b, loc, tiles.n1, panels, block);
  }
};

} // namespace
