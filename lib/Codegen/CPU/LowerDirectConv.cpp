//===- LowerDirectConv.cpp - convolutions as vector loops over rows -------===//
//
// Part of qat-mlir. The --qat-lower-direct-conv pass. Upstream vectorizes
// convolutions along channels (NHWC, after decomposing the window into 1-D
// convolutions); the training step's NCHW feature maps of 14 x 14 have 16
// or 32 channels and rows that each fit one AVX-512 vector, so here the
// vectors are rows and a column tap of the window is a lane offset. That
// needs no im2col matrix, whose 7.2 MB (the small CNN's second
// convolution) --qat-conv-to-mmt4d writes and reads back twice per step.
//
//===----------------------------------------------------------------------===//

#include "AccumulatorFills.h"
#include "ConvLoops.h"

#include "qat/Codegen/CPU/Passes.h"
#include "qat/Codegen/CPU/Targets.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERDIRECTCONVPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

constexpr int64_t kLanes = kFloatMmt4dLanes;
/// Filters per block of the weight gradient with one register per vector:
/// 2 x (at most 9) taps of accumulators.
constexpr int64_t kFilterBlock = 2;

/// Vectors per row of `width` elements.
int64_t chunksOf(int64_t width) { return llvm::divideCeil(width, kLanes); }

/// Builds the row loads, stores and loops of one convolution.
struct RowBuilder {
  OpBuilder &b;
  Location loc;
  VectorType row;
  /// Row vectors accumulated in registers by the forward and input-gradient
  /// loops: half the target's registers (16 of AVX-512's 32 zmm; 4 rows of
  /// two ymm each of AVX2's 16), the rest for operands.
  int64_t accumulatorRows;
  /// Registers per row vector (2 for 16 lanes in ymm registers).
  int64_t registersPerRow;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value a, int64_t v) {
    return v == 0 ? a : arith::AddIOp::create(b, loc, a, index(v)).getResult();
  }
  Value zeros() {
    return arith::ConstantOp::create(b, loc, row, b.getZeroAttr(row));
  }
  Value mask(int64_t width) {
    return vector::ConstantMaskOp::create(
        b, loc, VectorType::get({kLanes}, b.getI1Type()),
        ArrayRef<int64_t>{width});
  }
  /// `buffer[i, j, k, column + lane]` for the first `width` lanes, zeros
  /// in the others (not read).
  Value load(Value buffer, Value i, Value j, Value k, Value column,
             int64_t width) {
    SmallVector<Value> at{i, j, k, column};
    if (width == kLanes)
      return vector::LoadOp::create(b, loc, row, buffer, at);
    return vector::MaskedLoadOp::create(b, loc, row, buffer, at, mask(width),
                                        zeros());
  }
  /// `buffer[i, j, k, column : column + width]` as vectors of kLanes
  /// (the last one partly zeros).
  SmallVector<Value> loadRow(Value buffer, Value i, Value j, Value k,
                             int64_t column, int64_t width) {
    SmallVector<Value> chunks;
    for (int64_t lane = 0; lane < width; lane += kLanes)
      chunks.push_back(load(buffer, i, j, k, index(column + lane),
                            std::min(kLanes, width - lane)));
    return chunks;
  }
  void storeRow(ValueRange chunks, Value buffer, Value i, Value j, Value k,
                int64_t width) {
    for (auto [chunk, value] : llvm::enumerate(chunks)) {
      int64_t lane = chunk * kLanes;
      SmallVector<Value> at{i, j, k, index(lane)};
      if (width - lane >= kLanes)
        vector::StoreOp::create(b, loc, value, buffer, at);
      else
        vector::MaskedStoreOp::create(b, loc, buffer, at, mask(width - lane),
                                      value);
    }
  }
  /// `start + r` for r in [0, count).
  SmallVector<Value> consecutive(Value start, int64_t count) {
    SmallVector<Value> indices;
    for (int64_t r = 0; r < count; ++r)
      indices.push_back(add(start, r));
    return indices;
  }
  /// The accumulators of the rows `buffer[i, j, k, :]` for each `j` of
  /// `rows`, vectors of each in turn: zeros, or the rows' values.
  SmallVector<Value> startRows(bool fromZero, Value buffer, Value i,
                               ArrayRef<Value> rows, Value k, int64_t width) {
    SmallVector<Value> acc;
    Value zero = fromZero ? zeros() : Value();
    for (Value j : rows) {
      if (fromZero)
        acc.append(chunksOf(width), zero);
      else
        llvm::append_range(acc, loadRow(buffer, i, j, k, 0, width));
    }
    return acc;
  }
  void storeRows(ArrayRef<Value> acc, Value buffer, Value i,
                 ArrayRef<Value> rows, Value k, int64_t width) {
    int64_t chunks = chunksOf(width);
    for (auto [r, j] : llvm::enumerate(rows))
      storeRow(acc.slice(r * chunks, chunks), buffer, i, j, k, width);
  }
  /// `buffer[at]` in every lane.
  Value broadcast(Value buffer, ValueRange at) {
    Value scalar = memref::LoadOp::create(b, loc, buffer, at);
    return vector::BroadcastOp::create(b, loc, row, scalar);
  }
  /// Row `r` of the accumulators `acc` (its vectors in turn) plus
  /// `factor * values`, one fused multiply-add per vector.
  void fmaRow(MutableArrayRef<Value> acc, int64_t r, Value factor,
              ArrayRef<Value> values) {
    for (auto [chunk, value] : llvm::enumerate(values)) {
      Value &sum = acc[r * values.size() + chunk];
      sum = vector::FMAOp::create(b, loc, factor, value, sum);
    }
  }
  /// for i in [lower, upper): body(i, carried) -> carried.
  using Body = function_ref<SmallVector<Value>(Value, ValueRange)>;
  SmallVector<Value> loop(Value lower, Value upper, ValueRange init,
                          Body body) {
    auto forOp = scf::ForOp::create(
        b, loc, lower, upper, index(1), init,
        [&](OpBuilder &nested, Location, Value i, ValueRange carried) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          scf::YieldOp::create(b, loc, body(i, carried));
        });
    return SmallVector<Value>(forOp.getResults());
  }
  SmallVector<Value> loop(int64_t count, ValueRange init, Body body) {
    return loop(index(0), index(count), init, body);
  }
  /// `buffer`'s size `dim`: `known` when static.
  Value size(int64_t known, Value buffer, int64_t dim) {
    if (!ShapedType::isDynamic(known))
      return index(known);
    return memref::DimOp::create(b, loc, buffer, dim);
  }
  /// body(start, rows) for each block of `block` of `count` (`known` when
  /// static): a loop over the full blocks, then the rest as one block, or
  /// one at a time when the count is dynamic (a thread's share of an odd
  /// count).
  void blocks(int64_t known, Value count, int64_t block,
              function_ref<void(Value, int64_t)> body) {
    auto each = [&](Value lower, Value upper, int64_t step) {
      scf::ForOp::create(
          b, loc, lower, upper, index(step), ValueRange{},
          [&](OpBuilder &nested, Location, Value start, ValueRange) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nested.getInsertionBlock(),
                                nested.getInsertionPoint());
            body(start, step);
            scf::YieldOp::create(b, loc);
          });
    };
    if (ShapedType::isDynamic(known)) {
      Value full = arith::MulIOp::create(
          b, loc, arith::DivUIOp::create(b, loc, count, index(block)),
          index(block));
      each(index(0), full, block);
      each(full, count, 1);
      return;
    }
    if (known / block > 0)
      each(index(0), index(known / block * block), block);
    if (known % block)
      body(index(known / block * block), known % block);
  }
};

/// The rows `out[n, j, y, :]` of every image n and row y (out: N x J x
/// rows x width), in blocks of j whose vectors fill 16 registers: started
/// (from zero, or from `out`), passed through `update(n, y, js, acc)`, and
/// stored.
using RowUpdate =
    function_ref<SmallVector<Value>(Value, Value, ArrayRef<Value>, ValueRange)>;
void accumulateRows(RowBuilder &rb, Value out, int64_t n, int64_t j,
                    int64_t rows, int64_t width, bool fromZero,
                    RowUpdate update) {
  rb.loop(rb.index(0), rb.size(n, out, 0), {}, [&](Value image, ValueRange) {
    rb.loop(rows, {}, [&](Value y, ValueRange) {
      rb.blocks(j, rb.size(j, out, 1),
                std::max<int64_t>(1, rb.accumulatorRows / chunksOf(width)),
                [&](Value j0, int64_t count) {
                  SmallVector<Value> js = rb.consecutive(j0, count);
                  SmallVector<Value> acc =
                      rb.startRows(fromZero, out, image, js, y, width);
                  rb.storeRows(update(image, y, js, acc), out, image, js, y,
                               width);
                });
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
}

/// output[n, f, oh, :] over the filters' rows:
///   for c, kh, kw:
///     acc[r] += filter[f0 + r, c, kh, kw] * image[n, c, oh + kh, kw + :]
void lowerForward(RowBuilder &rb, const ConvShape &s, Value image, Value filter,
                  Value output, bool fromZero) {
  accumulateRows(
      rb, output, s.n, s.f, s.oh, s.ow, fromZero,
      [&](Value n, Value oh, ArrayRef<Value> filters, ValueRange acc) {
        return rb.loop(
            rb.index(0), rb.size(s.c, image, 1), acc,
            [&](Value c, ValueRange carried) {
              SmallVector<Value> next(carried);
              for (int64_t kh = 0; kh < s.kh; ++kh)
                for (int64_t kw = 0; kw < s.kw; ++kw) {
                  SmallVector<Value> taps =
                      rb.loadRow(image, n, c, rb.add(oh, kh), kw, s.ow);
                  for (auto [r, f] : llvm::enumerate(filters))
                    rb.fmaRow(next, r,
                              rb.broadcast(filter,
                                           {f, c, rb.index(kh), rb.index(kw)}),
                              taps);
                }
              return next;
            });
      });
}

/// image[n, c, y, :] over the channels' rows:
///   for f, kh with 0 <= y - kh < OH, kw:
///     acc[r] += filter[f, c0 + r, kh, kw] * (g[n, f, y - kh, :] shifted
///               right by kw lanes)
void lowerInputGradient(RowBuilder &rb, const ConvShape &s, Value image,
                        Value filter, Value grad, bool fromZero) {
  OpBuilder &b = rb.b;
  Location loc = rb.loc;
  int64_t chunks = chunksOf(s.iw);
  accumulateRows(
      rb, image, s.n, s.c, s.ih, s.iw, fromZero,
      [&](Value n, Value y, ArrayRef<Value> channels, ValueRange acc) {
        // Row taps kh in [max(0, y - OH + 1), min(KH - 1, y)].
        Value first = arith::MaxSIOp::create(
            b, loc, rb.index(0),
            arith::SubIOp::create(b, loc, y, rb.index(s.oh - 1)));
        Value last =
            arith::MinSIOp::create(b, loc, rb.index(s.kh), rb.add(y, 1));
        return rb.loop(
            rb.index(0), rb.size(s.f, filter, 0), acc,
            [&](Value f, ValueRange carried) {
              return rb.loop(
                  first, last, carried, [&](Value kh, ValueRange carried) {
                    SmallVector<Value> next(carried);
                    Value oh = arith::SubIOp::create(b, loc, y, kh);
                    SmallVector<Value> g = rb.loadRow(grad, n, f, oh, 0, s.ow);
                    // Lanes before and after g's row are zeros.
                    Value outside = rb.zeros();
                    auto gChunk = [&](int64_t chunk) {
                      return chunk >= 0 &&
                                     chunk < static_cast<int64_t>(g.size())
                                 ? g[chunk]
                                 : outside;
                    };
                    for (int64_t kw = 0; kw < s.kw; ++kw) {
                      // Lane x of chunk j holds g[16 j + x - kw]: the end
                      // of g's chunk j - 1, then the start of j.
                      SmallVector<int64_t> lanes;
                      for (int64_t x = 0; x < kLanes; ++x)
                        lanes.push_back(x < kw ? kLanes - kw + x
                                               : kLanes + x - kw);
                      SmallVector<Value> shifted;
                      for (int64_t chunk = 0; chunk < chunks; ++chunk)
                        shifted.push_back(kw == 0
                                              ? gChunk(chunk)
                                              : vector::ShuffleOp::create(
                                                    b, loc, gChunk(chunk - 1),
                                                    gChunk(chunk), lanes)
                                                    .getResult());
                      for (auto [r, c] : llvm::enumerate(channels))
                        rb.fmaRow(
                            next, r,
                            rb.broadcast(filter, {f, c, kh, rb.index(kw)}),
                            shifted);
                    }
                    return next;
                  });
            });
      });
}

/// filter[f, c, kh, kw] for two filters (one when rows take two vectors)
/// and one channel at a time:
///   acc[r][kh][kw] = sum over n, oh of
///                    g[n, f0 + r, oh, :] * image[n, c, oh + kh, kw + :]
///   filter[f0 + r, c, kh, kw] += sum of acc[r][kh][kw]'s lanes
void lowerWeightGradient(RowBuilder &rb, const ConvShape &s, Value image,
                         Value filter, Value grad, bool fromZero) {
  OpBuilder &b = rb.b;
  Location loc = rb.loc;
  int64_t taps = s.kh * s.kw, chunks = chunksOf(s.ow);
  // The accumulator of filter r, tap t, vector v.
  auto slot = [&](int64_t r, int64_t t, int64_t v) {
    return (r * taps + t) * chunks + v;
  };
  rb.blocks(
      s.f, rb.size(s.f, filter, 0),
      std::max<int64_t>(1, kFilterBlock / (chunks * rb.registersPerRow)),
      [&](Value f0, int64_t rows) {
        SmallVector<Value> filters = rb.consecutive(f0, rows);
        rb.loop(
            rb.index(0), rb.size(s.c, filter, 1), {}, [&](Value c, ValueRange) {
              SmallVector<Value> acc(rows * taps * chunks, rb.zeros());
              acc = rb.loop(
                  rb.index(0), rb.size(s.n, image, 0), acc,
                  [&](Value n, ValueRange carried) {
                    return rb.loop(
                        s.oh, carried, [&](Value oh, ValueRange carried) {
                          SmallVector<Value> next(carried);
                          SmallVector<SmallVector<Value>> g;
                          for (int64_t r = 0; r < rows; ++r)
                            g.push_back(
                                rb.loadRow(grad, n, filters[r], oh, 0, s.ow));
                          for (int64_t kh = 0; kh < s.kh; ++kh)
                            for (int64_t kw = 0; kw < s.kw; ++kw) {
                              SmallVector<Value> row = rb.loadRow(
                                  image, n, c, rb.add(oh, kh), kw, s.ow);
                              for (int64_t r = 0; r < rows; ++r)
                                for (int64_t v = 0; v < chunks; ++v) {
                                  Value &sum = next[slot(r, kh * s.kw + kw, v)];
                                  sum = vector::FMAOp::create(b, loc, g[r][v],
                                                              row[v], sum);
                                }
                            }
                          return next;
                        });
                  });
              // Vectors added lane by lane, then the lanes in order.
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t kh = 0; kh < s.kh; ++kh)
                  for (int64_t kw = 0; kw < s.kw; ++kw) {
                    int64_t t = kh * s.kw + kw;
                    Value lanes = acc[slot(r, t, 0)];
                    for (int64_t v = 1; v < chunks; ++v)
                      lanes = arith::AddFOp::create(b, loc, lanes,
                                                    acc[slot(r, t, v)]);
                    SmallVector<Value> at{filters[r], c, rb.index(kh),
                                          rb.index(kw)};
                    Value sum = vector::ReductionOp::create(
                        b, loc, vector::CombiningKind::ADD, lanes);
                    // From zero: +0.0 + sum, as after the fill (-0.0 + 0.0).
                    Value old = fromZero
                                    ? arith::ConstantOp::create(
                                          b, loc, b.getF32FloatAttr(0.0f))
                                          .getResult()
                                    : memref::LoadOp::create(b, loc, filter, at)
                                          .getResult();
                    memref::StoreOp::create(
                        b, loc, arith::AddFOp::create(b, loc, old, sum), filter,
                        at);
                  }
              return SmallVector<Value>{};
            });
      });
}

struct LowerDirectConvPass
    : qat::impl::LowerDirectConvPassBase<LowerDirectConvPass> {
  using Base::Base;

  void runOnOperation() override {
    std::string invalid =
        qat::invalidVectorRegisters(vectorBits, vectorRegisters);
    if (!invalid.empty()) {
      getOperation()->emitError("--qat-lower-direct-conv: ") << invalid;
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::LinalgOp, ConvShape>> convs;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (!op.hasPureBufferSemantics())
        return;
      std::optional<ConvShape> shape = matchConv(op);
      // Rows are vectors: each operand's last dimension must be contiguous.
      if (shape && isDirectConv(*shape, kLanes) &&
          llvm::all_of(op->getOperandTypes(), [](Type type) {
            return cast<MemRefType>(type).isLastDimUnitStride();
          }))
        convs.push_back({op, *shape});
    });
    for (auto [op, shape] : convs) {
      OpBuilder b(op);
      int64_t registersPerRow =
          llvm::divideCeil(kLanes * 32, std::max<unsigned>(vectorBits, 128));
      RowBuilder rb{
          b, op.getLoc(), VectorType::get({kLanes}, b.getF32Type()),
          std::max<int64_t>(1, int64_t(vectorRegisters) / 2 / registersPerRow),
          registersPerRow};
      Value image = op->getOperand(shape.image),
            filter = op->getOperand(shape.filter),
            output = op->getOperand(shape.output);
      // The zero fill of the accumulated operand goes: the loops start
      // from zero.
      linalg::FillOp fill = zeroFillOfAccumulator(op, op->getOperand(2));
      if (fill)
        eraseFill(fill);
      bool fromZero = static_cast<bool>(fill);
      if (shape.output == 2)
        lowerForward(rb, shape, image, filter, output, fromZero);
      else if (shape.image == 2)
        lowerInputGradient(rb, shape, image, filter, output, fromZero);
      else
        lowerWeightGradient(rb, shape, image, filter, output, fromZero);
      op->erase();
    }
  }
};

} // namespace
