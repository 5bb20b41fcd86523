//===- OutlineKernels.cpp - one function per linalg op ----------*- C++ -*-===//
//
// Part of qat-mlir. The --qat-outline-kernels pass.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::qat {
#define GEN_PASS_DEF_OUTLINEKERNELSPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

struct OutlineKernelsPass
    : qat::impl::OutlineKernelsPassBase<OutlineKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp func : functions) {
      if (func.isExternal())
        continue;
      SmallVector<Operation *> kernels;
      for (Operation &op : func.getBody().getOps()) {
        auto linalgOp = dyn_cast<linalg::LinalgOp>(&op);
        // Loops too: the microkernels of --qat-lower-mmt4d and
        // --qat-lower-direct-conv on one thread.
        if ((linalgOp && linalgOp.hasPureBufferSemantics()) ||
            isa<scf::ForallOp, scf::ParallelOp, scf::ForOp>(op))
          kernels.push_back(&op);
      }
      for (auto [index, kernel] : llvm::enumerate(kernels))
        outline(symbols, func, kernel,
                (func.getName() + "_kernel_" + llvm::Twine(index)).str());
      if (!kernels.empty() && optNoneAbove > 0)
        compileLargeGlueUnoptimized(func);
    }
  }

  /// What remains of `func` is glue: allocations, views and kernel calls,
  /// in one basic block. LLVM's instruction selection is quadratic in a
  /// block's loads and stores (DAG combining's alias queries dominated the
  /// profile of a MobileNetV2 gradient's ~20,000 glue ops). Above the
  /// threshold the glue is compiled unoptimized (optnone, which also needs
  /// noinline); its run time is a few instructions per kernel call either
  /// way, and the kernels are optimized as before.
  void compileLargeGlueUnoptimized(func::FuncOp func) {
    int64_t ops = 0;
    func.getBody().walk([&](Operation *) { ++ops; });
    if (ops <= static_cast<int64_t>(optNoneAbove))
      return;
    Builder builder(func.getContext());
    SmallVector<Attribute> passthrough;
    if (auto existing = func->getAttrOfType<ArrayAttr>("passthrough"))
      passthrough.append(existing.begin(), existing.end());
    for (StringRef flag : {"noinline", "optnone"})
      if (!llvm::is_contained(passthrough, builder.getStringAttr(flag)))
        passthrough.push_back(builder.getStringAttr(flag));
    func->setAttr("passthrough", builder.getArrayAttr(passthrough));
  }

  void outline(SymbolTable &symbols, func::FuncOp parent, Operation *op,
               const std::string &name) {
    // Operands, then values the op's regions use from above.
    llvm::SetVector<Value> arguments(op->getOperands().begin(),
                                     op->getOperands().end());
    for (Region &region : op->getRegions())
      getUsedValuesDefinedAbove(region, arguments);

    OpBuilder builder(parent);
    Location loc = op->getLoc();
    SmallVector<Type> types;
    for (Value value : arguments)
      types.push_back(value.getType());
    auto kernel = func::FuncOp::create(builder, loc, name,
                                       builder.getFunctionType(types, {}));
    kernel.setPrivate();
    kernel->setAttr("passthrough",
                    builder.getArrayAttr({builder.getStringAttr("noinline")}));
    symbols.insert(kernel);
    Block *body = kernel.addEntryBlock();
    IRMapping mapping;
    for (auto [value, argument] : llvm::zip(arguments, body->getArguments()))
      mapping.map(value, argument);
    builder.setInsertionPointToStart(body);
    builder.clone(*op, mapping);
    func::ReturnOp::create(builder, loc);

    builder.setInsertionPoint(op);
    func::CallOp::create(builder, loc, kernel, arguments.getArrayRef());
    op->erase();
  }
};

} // namespace
