//===- ModulePath.h - the PyTorch submodule an op came from -----*- C++ -*-===//
//
// Part of qat-mlir. qat-import records the dotted path of the PyTorch
// submodule each op was inlined from ("features.3.conv.0") as the metadata
// of a fused location around its source location, so that the passes'
// diagnostics can name the layer (the locations travel in the .mlir file
// with qat-import --debug-info).
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_UTILS_MODULEPATH_H
#define QAT_DIALECT_QAT_UTILS_MODULEPATH_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"

#include <string>

namespace mlir::qat {

/// `loc` marked as coming from the submodule `path` (unchanged if empty).
inline Location withModulePath(Location loc, llvm::StringRef path) {
  if (path.empty())
    return loc;
  return FusedLoc::get(loc->getContext(), {loc},
                       StringAttr::get(loc->getContext(), path));
}

/// The submodule path recorded in `loc`, or "".
inline std::string modulePathOf(Location loc) {
  std::string path;
  loc->walk([&](Location inner) {
    auto fused = dyn_cast<FusedLoc>(inner);
    auto name = fused ? dyn_cast_or_null<StringAttr>(fused.getMetadata())
                      : StringAttr();
    if (!name)
      return WalkResult::advance();
    path = name.str();
    return WalkResult::interrupt();
  });
  return path;
}

/// " (in module 'features.3.conv.0')" for a diagnostic, or "".
inline std::string inModuleSuffix(Location loc) {
  std::string path = modulePathOf(loc);
  return path.empty() ? "" : " (in module '" + path + "')";
}

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_MODULEPATH_H
