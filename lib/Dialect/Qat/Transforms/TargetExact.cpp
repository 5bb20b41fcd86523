//===- TargetExact.cpp - quantized layers compute in integers -------------===//
//
// Part of qat-mlir.
//
// --qat-target-exact: each quantized layer outputs the integer program's
// result through qat.straight_through, so training and deployment agree
// code for code (the method's target-exact guarantee).
//
//===----------------------------------------------------------------------===//

#include "IntegerLayer.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"

namespace mlir::qat {
#define GEN_PASS_DEF_TARGETEXACT
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

struct TargetExactPass : qat::impl::TargetExactBase<TargetExactPass> {
  void runOnOperation() override {
    SmallVector<QuantizedLayer> layers;
    getOperation()->walk([&](FakeQuantOp quant) {
      // A layer made exact before has a straight_through user already.
      bool isExact = llvm::any_of(quant->getUsers(), [](Operation *user) {
        return isa<StraightThroughOp>(user);
      });
      if (std::optional<QuantizedLayer> layer = matchQuantizedLayer(quant);
          layer && !isExact)
        layers.push_back(*layer);
    });
    for (QuantizedLayer &layer : layers) {
      FakeQuantOp output = layer.outputQuant;
      OpBuilder b(output);
      b.setInsertionPointAfter(output);
      Location loc = output.getLoc();
      Value codes = buildIntegerLayer(b, layer);
      Value exact = DequantizeOp::create(b, loc, output.getType(), codes,
                                         output.getScale(),
                                         output.getZeroPoint(), IntegerAttr());
      auto straight = StraightThroughOp::create(b, loc, output.getType(), exact,
                                                output.getResult());
      output.getResult().replaceAllUsesExcept(straight, straight);
    }
  }
};

} // namespace
