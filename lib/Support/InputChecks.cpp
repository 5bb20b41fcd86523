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

/// Whitespace and `//` comments, which MLIR's lexer skips between tokens.
llvm::StringRef skipBlanks(llvm::StringRef text) {
  while (true) {
    text = text.ltrim();
    if (!text.starts_with("//"))
      return text;
    size_t end = text.find('\n');
    text = end == llvm::StringRef::npos ? "" : text.drop_front(end + 1);
  }
}

/// Whether `element` is an integer literal as MLIR's lexer reads one
/// (`-`, then decimal digits or `0x` and hex digits) that fits in i64.
bool isI64Literal(llvm::StringRef element) {
  llvm::StringRef digits = element;
  digits.consume_front("-");
  bool hex = digits.consume_front("0x");
  if (digits.empty() || !llvm::all_of(digits, [&](char c) {
        return hex ? llvm::isHexDigit(c) : llvm::isDigit(c);
      }))
    return false;
  int64_t value;
  return !element.getAsInteger(0, value);
}

/// Whether `text` starts with `[`, then `int (, int)*` or nothing, then
/// `]`, each a 64-bit integer literal.
bool isI64List(llvm::StringRef text) {
  if (!text.consume_front("["))
    return false;
  text = skipBlanks(text);
  if (text.starts_with("]"))
    return true;
  while (true) {
    size_t end = text.find_first_of(",]");
    if (end == llvm::StringRef::npos ||
        !isI64Literal(text.take_front(end).trim()))
      return false;
    char separator = text[end];
    text = skipBlanks(text.drop_front(end + 1));
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
  // The custom forms of these ops end in `permutation = [...]` or
  // `dimensions = [...]`; their parser crashes when the keyword and `=`
  // are followed by anything but a list of i64. (Generic forms name the op
  // in a string and parse the attribute safely.)
  llvm::StringRef pendingOp;
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
    if (word == "linalg.transpose" || word == "linalg.broadcast" ||
        word == "linalg.reduce") {
      pendingOp = word;
      continue;
    }
    if (pendingOp.empty() || (word != "permutation" && word != "dimensions"))
      continue;
    llvm::StringRef rest = skipBlanks(text.substr(position));
    if (!rest.consume_front("=")) {
      pendingOp = "";
      continue;
    }
    if (!isI64List(skipBlanks(rest)))
      return ParserCrashSite{text.data() + start,
                             "'" + word.str() + "' of '" + pendingOp.str() +
                                 "' must be a list of 64-bit integers "
                                 "(MLIR's linalg parser crashes on anything "
                                 "else)"};
    pendingOp = "";
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
    emitError(UnknownLoc::get(context)) << "could not open input file '" << path
                                        << "': " << file.getError().message();
    return nullptr;
  }
  return parseCheckedModule(std::move(*file), sourceMgr, context);
}

OwningOpRef<ModuleOp>
mlir::qat::parseCheckedModule(std::unique_ptr<llvm::MemoryBuffer> buffer,
                              llvm::SourceMgr &sourceMgr,
                              MLIRContext *context) {
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
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
