//===- TorchImporter.cpp - TorchScript to MLIR ------------------*- C++ -*-===//
//
// Part of qat-mlir. Reads a TorchScript archive with LibTorch, inlines its
// `forward`, and emits the graph IR: tosa ops for elementwise, reduction,
// matmul and shape ops, and linalg named ops in PyTorch's NCHW layout for
// convolution and pooling (tosa has those only in NHWC). This file holds
// the model's structure: state, forward's signature, globals and predict.
// The importer's files are the only ones that include Torch headers and are
// compiled with exceptions: LibTorch reports errors by throwing, and so does
// the node emission, and run() turns every throw into one located
// diagnostic.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"
#include "qat/Import/Torch/ArchiveCheck.h"

#include "llvm/Support/MemoryBuffer.h"

#include <caffe2/serialize/in_memory_adapter.h>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::torch_import;

namespace mlir::qat::torch_import {

//===----------------------------------------------------------------------===//
// Model structure
//===----------------------------------------------------------------------===//

/// The state_dict's entries in its order: each module's parameters, then its
/// buffers, then its children's, depth first.
void Importer::collectState(const jit::Module &module,
                            const std::string &prefix) {
  for (const auto &parameter : module.named_parameters(/*recurse=*/false))
    state.push_back({prefix + parameter.name, parameter.value,
                     parameter.value.requires_grad()});
  for (const auto &buffer : module.named_buffers(/*recurse=*/false))
    state.push_back({prefix + buffer.name, buffer.value, false});
  for (const auto &child : module.named_children())
    collectState(child.value, prefix + child.name + ".");
}

/// Resolves prim::GetAttr on a module object: submodules and constants are
/// recorded; a parameter or buffer becomes a leading argument of forward
/// (added on first use, so forward takes exactly the state it reads).
void Importer::importGetAttr(jit::Node *node) {
  auto parent = values.find(node->input(0));
  if (parent == values.end() || !parent->second.constant.isObject())
    fail("attribute access on something other than a module");
  std::string name = node->s(jit::attr::name);
  c10::IValue attribute = parent->second.constant.toObject()->getAttr(name);
  if (!attribute.isTensor()) {
    bindConstant(node->output(), attribute);
    return;
  }
  auto it = stateIndex.find(attribute.toTensor().unsafeGetTensorImpl());
  if (it == stateIndex.end())
    fail("tensor attribute '" + name + "' is neither a parameter nor a buffer");
  values[node->output()].state = it->second;
}

/// The current value of a state entry: its latest update, or its forward
/// argument (added on first use, so forward takes exactly the state it
/// reads).
Value Importer::stateValue(size_t index) {
  if (auto update = stateUpdates.find(index); update != stateUpdates.end())
    return update->second;
  auto argument = stateArguments.find(index);
  if (argument == stateArguments.end()) {
    RankedTensorType type = typeOf(builder, state[index].tensor);
    if (!type.getElementType())
      fail("state tensor '" + state[index].name + "' has an unsupported dtype");
    Block &body = forward.getBody().front();
    Value value = body.insertArgument(usedState.size(), type, loc);
    usedState.push_back(index);
    argument = stateArguments.insert({index, value}).first;
  }
  return argument->second;
}

size_t Importer::stateIndexOf(jit::Value *value) {
  auto it = values.find(value);
  if (it == values.end() || !it->second.state)
    fail("operand '%" + value->debugName() +
         "' must be a parameter or buffer of the model");
  return *it->second.state;
}

/// Records that the model writes `newValue` (reshaped to the entry's shape)
/// into the state entry `value` refers to, as PyTorch's in-place kernels do.
void Importer::updateState(jit::Value *value, Value newValue) {
  size_t index = stateIndexOf(value);
  RankedTensorType type = typeOf(builder, state[index].tensor);
  if (newValue.getType() != type) {
    auto from = cast<RankedTensorType>(newValue.getType());
    if (from.getNumElements() != type.getNumElements() ||
        from.getElementType() != type.getElementType())
      fail("the update of '" + state[index].name + "' does not fit it");
    SmallVector<ReassociationIndices> none;
    if (from.getRank() == 0)
      newValue =
          tensor::ExpandShapeOp::create(builder, loc, type, newValue, none);
    else if (type.getRank() == 0)
      newValue =
          tensor::CollapseShapeOp::create(builder, loc, type, newValue, none);
    else
      fail("the update of '" + state[index].name + "' changes its shape");
  }
  stateUpdates[index] = newValue;
}

Type elementTypeOf(OpBuilder &builder, const at::Tensor &tensor) {
  switch (tensor.scalar_type()) {
  case at::kFloat:
    return builder.getF32Type();
  case at::kLong:
    return builder.getI64Type();
  case at::kInt:
    return builder.getI32Type();
  case at::kByte:
    return builder.getIntegerType(8, /*isSigned=*/false);
  case at::kChar:
    return builder.getI8Type();
  default:
    return {};
  }
}

RankedTensorType typeOf(OpBuilder &builder, const at::Tensor &tensor) {
  std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
  return RankedTensorType::get(shape, elementTypeOf(builder, tensor));
}

/// Puts forward's state arguments (added in the order the body first read
/// them) into state_dict order.
void Importer::sortStateArguments() {
  Block &body = forward.getBody().front();
  size_t count = usedState.size();
  std::vector<size_t> sorted(usedState);
  llvm::sort(sorted);
  for (auto [position, index] : llvm::enumerate(sorted))
    stateArguments[index] = body.insertArgument(
        position, typeOf(builder, state[index].tensor), forward.getLoc());
  llvm::BitVector old(body.getNumArguments());
  for (auto [position, index] : llvm::enumerate(usedState)) {
    Value stale = body.getArgument(count + position);
    stale.replaceAllUsesWith(stateArguments[index]);
    old.set(count + position);
  }
  body.eraseArguments(old);
  usedState = std::move(sorted);
}

/// The 0-d i64 seed argument that training-mode dropout draws from, added
/// after the inputs on first use.
Value Importer::rngSeed() {
  if (!seedArgument)
    seedArgument = forward.getBody().front().addArgument(
        RankedTensorType::get({}, builder.getI64Type()), loc);
  return seedArgument;
}

/// Creates forward with the model's inputs as arguments; state arguments
/// are inserted in front of them as the body reads them.
func::FuncOp Importer::createForward(jit::Graph &graph) {
  SmallVector<Type> argTypes;
  auto inputs = graph.inputs().slice(1);
  if (!options.inputShapes.empty() &&
      options.inputShapes.size() != inputs.size())
    fail("the model takes " + llvm::Twine(inputs.size()) + " inputs but " +
         llvm::Twine(options.inputShapes.size()) + " shapes were given");
  for (auto [index, input] : llvm::enumerate(inputs)) {
    auto tensorType = input->type()->cast<c10::TensorType>();
    if (!tensorType)
      fail("input '" + input->debugNameBase() + "' is not a tensor");
    std::vector<int64_t> shape;
    if (!options.inputShapes.empty()) {
      shape = options.inputShapes[index];
    } else {
      auto sizes = tensorType->sizes().concrete_sizes();
      if (!sizes)
        fail("input '" + input->debugNameBase() +
             "' has no recorded shape (archives keep none): give "
             "--input-shape");
      shape = *sizes;
    }
    // f32, or i64 where the caller says so (class-index targets); the
    // graph's own dtype, where the trace kept one, must agree.
    bool isInt64 =
        index < options.inputTypes.size() && options.inputTypes[index] == "i64";
    if (index < options.inputTypes.size() && !isInt64 &&
        options.inputTypes[index] != "f32")
      fail("input '" + input->debugNameBase() + "' has element type '" +
           options.inputTypes[index] + "' (f32 or i64)");
    auto scalar = tensorType->scalarType();
    if (scalar && *scalar != (isInt64 ? at::kLong : at::kFloat))
      fail("input '" + input->debugNameBase() + "' is not " +
           (isInt64 ? "int64" : "float32"));
    if (isInt64)
      argTypes.push_back(RankedTensorType::get(shape, builder.getI64Type()));
    else
      argTypes.push_back(f32(shape));
  }

  builder.setInsertionPointToEnd(module->getBody());
  forward = func::FuncOp::create(builder, loc, "forward",
                                 builder.getFunctionType(argTypes, {}));
  Block *body = forward.addEntryBlock();
  for (auto [index, input] : llvm::enumerate(inputs))
    bind(input, body->getArgument(index));
  return forward;
}

/// Names every argument of forward (qat.state or qat.input) and fixes its
/// type once the body is complete.
static void finishForward(func::FuncOp forward, OpBuilder &builder,
                          ArrayRef<std::string> stateNames,
                          ArrayRef<bool> trainable,
                          ArrayRef<std::string> inputNames) {
  Block &body = forward.getBody().front();
  forward.setFunctionType(builder.getFunctionType(
      body.getArgumentTypes(), body.getTerminator()->getOperandTypes()));
  SmallVector<DictionaryAttr> argAttrs;
  for (auto [name, isTrainable] : llvm::zip_equal(stateNames, trainable)) {
    SmallVector<NamedAttribute> attrs{
        builder.getNamedAttr("qat.state", builder.getStringAttr(name))};
    // Parameters (not buffers) are what training differentiates by.
    if (isTrainable)
      attrs.push_back(
          builder.getNamedAttr("qat.trainable", builder.getUnitAttr()));
    argAttrs.push_back(builder.getDictionaryAttr(attrs));
  }
  for (const std::string &name : inputNames)
    argAttrs.push_back(builder.getDictionaryAttr(
        builder.getNamedAttr("qat.input", builder.getStringAttr(name))));
  forward.setAllArgAttrs(argAttrs);
}

void Importer::createGlobals() {
  builder.setInsertionPointToStart(module->getBody());
  for (const StateEntry &entry : state) {
    RankedTensorType type = typeOf(builder, entry.tensor);
    if (!type.getElementType())
      fail("state tensor '" + entry.name + "' has an unsupported dtype");
    at::Tensor contiguous = entry.tensor.contiguous();
    ArrayRef<char> bytes(static_cast<const char *>(contiguous.data_ptr()),
                         contiguous.nbytes());
    // Raw bytes, so every value is kept bit for bit (printed as hex).
    auto value = DenseElementsAttr::getFromRawBuffer(type, bytes);
    bool updated = stateUpdates.count(&entry - state.data());
    ml_program::GlobalOp::create(
        builder, UnknownLoc::get(context), builder.getStringAttr(entry.name),
        TypeAttr::get(type), updated ? builder.getUnitAttr() : nullptr, value,
        builder.getStringAttr("private"));
  }
}

void Importer::createPredict(func::FuncOp forward) {
  builder.setInsertionPointToEnd(module->getBody());
  FunctionType type = forward.getFunctionType();
  auto inputTypes = type.getInputs().drop_front(usedState.size());
  size_t outputCount = type.getNumResults() - stateUpdates.size();
  auto predict = func::FuncOp::create(
      builder, UnknownLoc::get(context), "predict",
      builder.getFunctionType(inputTypes,
                              type.getResults().take_front(outputCount)));
  Block *body = predict.addEntryBlock();
  builder.setInsertionPointToStart(body);
  SmallVector<Value> arguments;
  for (auto [position, index] : llvm::enumerate(usedState))
    arguments.push_back(ml_program::GlobalLoadOp::create(
        builder, predict.getLoc(), type.getInput(position),
        SymbolRefAttr::get(context, state[index].name)));
  llvm::append_range(arguments, body->getArguments());
  auto call =
      func::CallOp::create(builder, predict.getLoc(), forward, arguments);
  // The state the model writes goes back into its globals, so repeated
  // calls observe as PyTorch's forward does.
  for (auto [position, entry] : llvm::enumerate(stateUpdates))
    ml_program::GlobalStoreOp::create(
        builder, predict.getLoc(),
        SymbolRefAttr::get(context, state[entry.first].name),
        call.getResult(outputCount + position));
  func::ReturnOp::create(builder, predict.getLoc(),
                         call.getResults().take_front(outputCount));
}

OwningOpRef<ModuleOp> Importer::run() {
  loc = FileLineColLoc::get(context, path, 0, 0);
  module = ModuleOp::create(loc);
  std::shared_ptr<jit::Graph> graph;
  try {
    torchModule.train(options.trainingMode);
    graph = torchModule.get_method("forward").graph()->copy();
    jit::Inline(*graph);
    collectState(torchModule, "");
    for (auto [index, entry] : llvm::enumerate(state))
      stateIndex[entry.tensor.unsafeGetTensorImpl()] = index;
    values[graph->inputs()[0]].constant = torchModule._ivalue();
    createForward(*graph);
    builder.setInsertionPointToStart(&forward.getBody().front());
    importBlock(graph->block());
    SmallVector<Value> results;
    for (jit::Value *output : graph->outputs()) {
      jit::Node *producer = output->node();
      if (producer->kind() == c10::prim::TupleConstruct) {
        for (jit::Value *item : producer->inputs())
          results.push_back(tensorOf(item));
      } else {
        results.push_back(tensorOf(output));
      }
    }
    loc = forward.getLoc();
    size_t outputCount = results.size();
    for (auto &[index, value] : stateUpdates)
      results.push_back(value);
    func::ReturnOp::create(builder, loc, results);
    // Sorting replaces arguments, including any the return op returns.
    sortStateArguments();
    std::vector<std::string> stateNames, inputNames;
    SmallVector<bool> trainable;
    for (size_t index : usedState) {
      stateNames.push_back(state[index].name);
      trainable.push_back(state[index].trainable);
    }
    for (jit::Value *input : graph->inputs().slice(1))
      inputNames.push_back(input->debugNameBase());
    if (seedArgument)
      inputNames.push_back("rng_seed");
    finishForward(forward, builder, stateNames, trainable, inputNames);
    for (auto [position, entry] : llvm::enumerate(stateUpdates))
      forward.setResultAttr(outputCount + position, "qat.state",
                            builder.getStringAttr(state[entry.first].name));
    createGlobals();
    createPredict(forward);
  } catch (const ImportError &error) {
    std::string path = currentNode ? modulePathOf(currentNode) : "";
    InFlightDiagnostic diagnostic = emitError(loc) << error.what();
    if (!path.empty())
      diagnostic << " (in module '" << path << "')";
    return nullptr;
  } catch (const c10::Error &error) {
    emitError(loc) << error.what_without_backtrace();
    return nullptr;
  } catch (const std::exception &error) {
    emitError(loc) << error.what();
    return nullptr;
  }
  if (failed(verify(*module)))
    return nullptr;
  return std::move(module);
}

} // namespace mlir::qat::torch_import

OwningOpRef<ModuleOp>
mlir::qat::importTorchScript(MLIRContext *context, StringRef path,
                             const TorchImportOptions &options) {
  context->loadDialect<QatDialect, arith::ArithDialect, func::FuncDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       ml_program::MLProgramDialect, tensor::TensorDialect,
                       tosa::TosaDialect>();
  Location fileLoc = FileLineColLoc::get(context, path, 0, 0);
  // LibTorch reads the archive only after checkTorchArchive passed it, and
  // from the very bytes that were checked.
  auto bytes = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
  if (!bytes) {
    emitError(fileLoc) << "cannot read '" << path
                       << "': " << bytes.getError().message();
    return nullptr;
  }
  if (llvm::Error failure = checkTorchArchive((*bytes)->getBuffer())) {
    emitError(fileLoc) << "cannot load a TorchScript archive: "
                       << llvm::toString(std::move(failure));
    return nullptr;
  }
  jit::Module torchModule;
  try {
    torchModule =
        jit::load(std::make_shared<caffe2::serialize::MemoryReadAdapter>(
            (*bytes)->getBufferStart(), (*bytes)->getBufferSize()));
  } catch (const c10::Error &error) {
    std::string message = error.what_without_backtrace();
    emitError(fileLoc) << "cannot load a TorchScript archive: "
                       << StringRef(message).split('\n').first;
    return nullptr;
  } catch (const std::exception &error) {
    emitError(fileLoc) << "cannot load a TorchScript archive: "
                       << StringRef(error.what()).split('\n').first;
    return nullptr;
  }
  if (!options.trainingMode)
    return Importer(context, torchModule, options, path).run();

  // Training mode: the training forward, plus the evaluation-mode forward
  // as @forward_eval (batch norm with running statistics, no dropout), so
  // that one module both trains and evaluates.
  TorchImportOptions evalOptions = options;
  evalOptions.trainingMode = false;
  OwningOpRef<ModuleOp> evalModule =
      Importer(context, torchModule, evalOptions, path).run();
  if (!evalModule)
    return nullptr;
  OwningOpRef<ModuleOp> module =
      Importer(context, torchModule, options, path).run();
  if (!module)
    return nullptr;
  auto evalForward = evalModule->lookupSymbol<func::FuncOp>("forward");
  evalForward->remove();
  evalForward.setName("forward_eval");
  module->getBody()->push_back(evalForward);
  return module;
}
