//===- InputChecks.h - Keep inputs that crash MLIR from reaching it -*- C++
//-*-===//
//
// Part of qat-mlir.
//
// A few inputs crash MLIR 22 itself where it should report an error (found
// by qat-mlir-fuzzer, reproduced with stock mlir-opt 22; see
// docs/reliability.md). The project's tools run these checks on every
// module they read, so such an input ends in a diagnostic instead.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_SUPPORT_INPUTCHECKS_H
#define QAT_SUPPORT_INPUTCHECKS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/Pass.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <optional>
#include <string>

namespace mlir::qat {

/// Where MLIR's parser would crash on `text`, and why.
struct ParserCrashSite {
  const char *where;
  std::string message;
};

/// Source text: linalg's custom parsers (transpose, broadcast, reduce)
/// store a null attribute, and then crash, when `permutation =` or
/// `dimensions =` is followed by anything but a list of 64-bit integer
/// literals. Returns the first such place (outside comments and strings).
std::optional<ParserCrashSite> findParserCrash(llvm::StringRef text);

/// findParserCrash on every buffer; emits an error at the site.
LogicalResult checkSourceForParserCrashes(const llvm::SourceMgr &sourceMgr,
                                          MLIRContext *context);

/// Parsed IR that verifies but crashes the printer and the passes that
/// read it: a `tensor.pad` whose static pads mark more (or fewer) dynamic
/// pads than it has operands for. Emits an error on each such op.
LogicalResult checkIRForUpstreamCrashes(Operation *root);

/// parseSourceFile with both checks; null (after the diagnostics) when the
/// file cannot be read, does not parse, or fails a check.
OwningOpRef<ModuleOp> parseCheckedModule(llvm::StringRef path,
                                         llvm::SourceMgr &sourceMgr,
                                         MLIRContext *context);
/// The same for text already in memory (named by its buffer identifier).
OwningOpRef<ModuleOp>
parseCheckedModule(std::unique_ptr<llvm::MemoryBuffer> buffer,
                   llvm::SourceMgr &sourceMgr, MLIRContext *context);

/// A pass running checkIRForUpstreamCrashes; qat-opt schedules it before
/// the pipeline it is given.
std::unique_ptr<Pass> createCheckUpstreamCrashesPass();

} // namespace mlir::qat

#endif // QAT_SUPPORT_INPUTCHECKS_H
