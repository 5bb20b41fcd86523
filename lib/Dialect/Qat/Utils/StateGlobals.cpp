//===- StateGlobals.cpp - globals that hold training state ---------------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/Qat/Utils/StateGlobals.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

LogicalResult mlir::qat::getOrCreateStateGlobal(ModuleOp module, StringRef name,
                                                RankedTensorType type,
                                                Attribute initial) {
  if (Operation *existing = module.lookupSymbol(name)) {
    auto global = dyn_cast<ml_program::GlobalOp>(existing);
    if (!global || global.getType() != type || !global.getIsMutable())
      return existing->emitError()
             << "'" << name << "' must be a mutable global of type " << type
             << " to hold training state";
    return success();
  }
  OpBuilder builder(module.getContext());
  Operation *last = nullptr;
  for (auto global : module.getOps<ml_program::GlobalOp>())
    last = global;
  if (last)
    builder.setInsertionPointAfter(last);
  else
    builder.setInsertionPointToStart(module.getBody());
  ml_program::GlobalOp::create(
      builder, module.getLoc(), builder.getStringAttr(name),
      TypeAttr::get(type), builder.getUnitAttr(),
      DenseElementsAttr::get(type, initial), builder.getStringAttr("private"));
  return success();
}
