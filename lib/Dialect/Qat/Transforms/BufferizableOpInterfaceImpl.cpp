//===- BufferizableOpInterfaceImpl.cpp - bufferizing qat ops ----*- C++ -*-===//
//
// Part of qat-mlir. `qat.all_reduce` is communication, which no upstream op
// expresses: One-Shot Bufferize turns it into a call of the runtime function
// the training driver links in (kAllReduceRuntimeFunction).
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Transforms/BufferizableOpInterfaceImpl.h"
#include "qat/Dialect/Qat/IR/QatDialect.h"
#include "qat/Dialect/Qat/IR/QatOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::bufferization;

namespace {

/// The runtime function's declaration, created in the module on first use.
func::FuncOp runtimeFunction(RewriterBase &rewriter, Operation *op) {
  auto module = op->getParentOfType<ModuleOp>();
  if (auto existing =
          module.lookupSymbol<func::FuncOp>(kAllReduceRuntimeFunction))
    return existing;
  MLIRContext *ctx = op->getContext();
  auto type = rewriter.getFunctionType(
      {UnrankedMemRefType::get(Float32Type::get(ctx), 0),
       rewriter.getI32Type()},
      {});
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToStart(module.getBody());
  auto function = func::FuncOp::create(rewriter, module.getLoc(),
                                       kAllReduceRuntimeFunction, type);
  function.setPrivate();
  return function;
}

/// The input is read into a fresh contiguous buffer, which the runtime
/// reduces in place and which becomes the result: no aliasing for the
/// analysis to reason about, and the copy is small next to the transfer.
struct AllReduceOpInterface
    : BufferizableOpInterface::ExternalModel<AllReduceOpInterface,
                                             AllReduceOp> {
  bool bufferizesToMemoryRead(Operation *op, OpOperand &operand,
                              const AnalysisState &state) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *op, OpOperand &operand,
                               const AnalysisState &state) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *op, OpOperand &operand,
                                      const AnalysisState &state) const {
    return {};
  }
  bool bufferizesToAllocation(Operation *op, Value value) const { return true; }
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto reduce = cast<AllReduceOp>(op);
    Location loc = op->getLoc();
    FailureOr<Value> input =
        getBuffer(rewriter, reduce.getInput(), options, state);
    if (failed(input))
      return failure();
    RankedTensorType type = reduce.getInput().getType();
    auto bufferType = MemRefType::get(type.getShape(), type.getElementType());
    FailureOr<Value> buffer = options.createAlloc(rewriter, loc, bufferType,
                                                  /*dynShape=*/{});
    if (failed(buffer) ||
        failed(options.createMemCpy(rewriter, loc, *input, *buffer)))
      return failure();
    func::FuncOp callee = runtimeFunction(rewriter, op);
    Value unranked = memref::CastOp::create(
        rewriter, loc, callee.getFunctionType().getInput(0), *buffer);
    Value kind = arith::ConstantOp::create(
        rewriter, loc,
        rewriter.getI32IntegerAttr(static_cast<int32_t>(reduce.getKind())));
    func::CallOp::create(rewriter, loc, callee, ValueRange{unranked, kind});
    replaceOpWithBufferizedValues(rewriter, op, *buffer);
    return success();
  }
};

} // namespace

void mlir::qat::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, QatDialect *) {
    AllReduceOp::attachInterface<AllReduceOpInterface>(*ctx);
  });
}
