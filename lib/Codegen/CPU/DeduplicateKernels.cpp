//===- DeduplicateKernels.cpp - one function per distinct kernel -*- C++
//-*-===//
//
// Part of qat-mlir. The --qat-deduplicate-kernels pass.
//
//===----------------------------------------------------------------------===//
//
// Upstream MLIR has no pass that merges identical functions (LLVM's
// MergeFunctions runs only after translation, when lowering has already
// paid for every copy), so this one is written here.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::qat {
#define GEN_PASS_DEF_DEDUPLICATEKERNELSPASS
#include "qat/Codegen/CPU/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// A hash of what the equivalence check compares: the function's
/// attributes other than its name, and each op of its body (not the SSA
/// values' identities, not locations).
llvm::hash_code hashFunction(func::FuncOp func, DictionaryAttr attributes) {
  llvm::hash_code hash = hash_value(attributes);
  func.getBody().walk([&](Operation *op) {
    hash =
        llvm::hash_combine(hash, OperationEquivalence::computeHash(
                                     op, OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::IgnoreLocations));
  });
  return hash;
}

/// The function's attributes, its name left out.
DictionaryAttr attributesWithoutName(func::FuncOp func) {
  NamedAttrList attributes(func->getAttrDictionary());
  attributes.erase(SymbolTable::getSymbolAttrName());
  return attributes.getDictionary(func.getContext());
}

struct DeduplicateKernelsPass
    : qat::impl::DeduplicateKernelsPassBase<DeduplicateKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();

    // Only functions that nothing but direct calls refers to can be
    // merged by redirecting those calls.
    llvm::DenseSet<StringAttr> referencedOtherwise;
    if (auto uses = SymbolTable::getSymbolUses(&module.getBodyRegion()))
      for (const SymbolTable::SymbolUse &use : *uses) {
        auto call = dyn_cast<func::CallOp>(use.getUser());
        if (!call || use.getSymbolRef() != call.getCalleeAttr())
          referencedOtherwise.insert(use.getSymbolRef().getRootReference());
      }

    // Buckets of the distinct functions seen so far, by hash; the first of
    // equivalent functions in module order stays, so the output does not
    // depend on hash values.
    llvm::DenseMap<llvm::hash_code,
                   SmallVector<std::pair<func::FuncOp, DictionaryAttr>>>
        distinct;
    llvm::DenseMap<StringAttr, FlatSymbolRefAttr> replacement;
    SmallVector<func::FuncOp> duplicates;
    for (func::FuncOp func : module.getOps<func::FuncOp>()) {
      if (!func.isPrivate() || func.isExternal() ||
          referencedOtherwise.contains(func.getSymNameAttr()))
        continue;
      DictionaryAttr attributes = attributesWithoutName(func);
      auto &bucket = distinct[hashFunction(func, attributes)];
      auto same = llvm::find_if(bucket, [&](auto &kept) {
        return kept.second == attributes &&
               OperationEquivalence::isRegionEquivalentTo(
                   &kept.first.getBody(), &func.getBody(),
                   OperationEquivalence::IgnoreLocations);
      });
      if (same == bucket.end()) {
        bucket.push_back({func, attributes});
        continue;
      }
      replacement[func.getSymNameAttr()] =
          FlatSymbolRefAttr::get(same->first.getSymNameAttr());
      duplicates.push_back(func);
    }

    module.walk([&](func::CallOp call) {
      auto it = replacement.find(call.getCalleeAttr().getAttr());
      if (it != replacement.end())
        call.setCalleeAttr(it->second);
    });
    for (func::FuncOp func : duplicates)
      func.erase();
  }
};

} // namespace
