//===- TargetExact.cpp - quantized computations in integers ---------------===//
//
// Part of qat-mlir.
//
// --qat-target-exact: each quantized layer and residual addition outputs
// the integer program's result through qat.straight_through, so training
// and deployment agree code for code (the method's target-exact
// guarantee).
//
//===----------------------------------------------------------------------===//

#include "IntegerForms.h"
#include "qat/Dialect/Qat/IR/QatOps.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::qat {
#define GEN_PASS_DEF_TARGETEXACTPASS
#include "qat/Dialect/Qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

struct TargetExactPass : qat::impl::TargetExactPassBase<TargetExactPass> {
  void runOnOperation() override { makeTargetExact(getOperation()); }
};

} // namespace
