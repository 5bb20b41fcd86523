//===- InputChecks.cpp - Keep inputs that crash MLIR from reaching it -----===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Support/InputChecks.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;

namespace {

/// Whether `list` (just after its `[`) is `int (, int)* ]` or `]`, each a
/// 64-bit integer as the builtin parser reads them.
bool isI64List(llvm::StringRef list) {
  list = list.ltrim();
  if (list.consume_front("]"))
    return true;
  while (true) {
    size_t end = list.find_first_of(",]");
    if (end == llvm::StringRef::npos)
      return false;
    llvm::StringRef element = list.take_front(end).trim();
    int64_t value;
    if (element.empty() || element.getAsInteger(0, value))
      return false;
    char separator = list[end];
    list = list.drop_front(end + 1);
    if (separator == ']')
      return true;
  }
}

struct CheckUpstreamCrashesPass
    : public PassWrapper<CheckUpstreamCrashesPass, OperationPass<>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CheckUpstreamCrashesPass)
  llvm::StringRef getArgument() const final {
    return "qat-check-upstream-crashes";
  }
  llvm::StringRef getDescription() const final {
    return "Reject IR that verifies but crashes MLIR's printer or passes";
  }
  void runOnOperation() final {
    if (failed(qat::checkIRForUpstreamCrashes(getOperation())))
      signalPassFailure();
  }
};

} // namespace

std::optional<qat::ParserCrashSite>
mlir::qat::findParserCrash(llvm::StringRef text) {
  size_t position = 0;
  while (position < text.size()) {
    char c = text[position];
    if (c == '/' && text.substr(position).starts_with("//")) {
      size_t end = text.find('\n', position);
      position = end == llvm::StringRef::npos ? text.size() : end + 1;
      continue;
    }
    if (c == '"') {
      // A string literal, whose escapes may hide a quote.
      for (++position; position < text.size() && text[position] != '"';
           ++position)
        if (text[position] == '\\')
          ++position;
      ++position;
      continue;
    }
    if (!llvm::isAlpha(c) && c != '_') {
      ++position;
      continue;
    }
    size_t start = position;
    while (position < text.size() &&
           (llvm::isAlnum(text[position]) || text[position] == '_' ||
            text[position] == '.' || text[position] == '$'))
      ++position;
    llvm::StringRef word = text.slice(start, position);
    if (word != "permutation" && word != "dimensions")
      continue;
    llvm::StringRef rest = text.substr(position).ltrim();
    if (!rest.consume_front("="))
      continue;
    rest = rest.ltrim();
    if (!rest.consume_front("[") || isI64List(rest))
      continue;
    return ParserCrashSite{text.data() + start,
                           "'" + word.str() +
                               "' must be a list of 64-bit integers (MLIR's "
                               "linalg parser crashes on anything else)"};
  }
  return std::nullopt;
}

LogicalResult
mlir::qat::checkSourceForParserCrashes(const llvm::SourceMgr &sourceMgr,
                                       MLIRContext *context) {
  for (unsigned id = 1; id <= sourceMgr.getNumBuffers(); ++id) {
    const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(id);
    std::optional<ParserCrashSite> site = findParserCrash(buffer->getBuffer());
    if (!site)
      continue;
    auto [line, column] = sourceMgr.getLineAndColumn(
        llvm::SMLoc::getFromPointer(site->where), id);
    emitError(FileLineColLoc::get(context, buffer->getBufferIdentifier(), line,
                                  column))
        << site->message;
    return failure();
  }
  return success();
}

LogicalResult mlir::qat::checkIRForUpstreamCrashes(Operation *root) {
  bool ok = true;
  root->walk([&](tensor::PadOp pad) {
    auto dynamicCount = [](llvm::ArrayRef<int64_t> sizes) {
      return llvm::count(sizes, ShapedType::kDynamic);
    };
    int64_t low = dynamicCount(pad.getStaticLow());
    int64_t high = dynamicCount(pad.getStaticHigh());
    if (low == static_cast<int64_t>(pad.getLow().size()) &&
        high == static_cast<int64_t>(pad.getHigh().size()))
      return;
    pad.emitOpError() << "marks " << low << " low and " << high
                      << " high pads dynamic but has " << pad.getLow().size()
                      << " and " << pad.getHigh().size()
                      << " operands for them (a static pad of INT64_MIN is "
                         "the dynamic marker)";
    ok = false;
  });
  return success(ok);
}

OwningOpRef<ModuleOp> mlir::qat::parseCheckedModule(llvm::StringRef path,
                                                    llvm::SourceMgr &sourceMgr,
                                                    MLIRContext *context) {
  auto file = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (!file) {
    emitError(UnknownLoc::get(context))
        << "could not open input file '" << path << "': " << file.getError().message();
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  if (failed(checkSourceForParserCrashes(sourceMgr, context)))
    return nullptr;
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(context));
  if (!module || failed(checkIRForUpstreamCrashes(*module)))
    return nullptr;
  return module;
}

std::unique_ptr<Pass> mlir::qat::createCheckUpstreamCrashesPass() {
  return std::make_unique<CheckUpstreamCrashesPass>();
}
