//===- StateDictExport.cpp - model state back to PyTorch --------*- C++ -*-===//
//
// Part of qat-mlir. LibTorch's pickler writes the same zip format as
// Python's torch.save, so a dict of tensors written here loads with
// torch.load.
//
//===----------------------------------------------------------------------===//

#include "qat/Import/Torch/StateDictExport.h"
#include "qat/Support/AtomicFile.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <ATen/ATen.h>
#include <torch/serialize.h>

using namespace mlir;

namespace {

/// The tensor an elements attribute holds, or an undefined tensor when its
/// element type has no PyTorch counterpart here.
at::Tensor toTensor(DenseElementsAttr values) {
  auto type = cast<ShapedType>(values.getType());
  std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
  Type element = type.getElementType();
  auto fill = [&](auto tag, at::ScalarType scalarType) {
    using T = decltype(tag);
    at::Tensor tensor = at::empty(shape, at::TensorOptions(scalarType));
    T *data = tensor.data_ptr<T>();
    for (T value : values.getValues<T>())
      *data++ = value;
    return tensor;
  };
  if (element.isF32())
    return fill(float(), at::kFloat);
  if (element.isF64())
    return fill(double(), at::kDouble);
  if (element.isInteger(64))
    return fill(int64_t(), at::kLong);
  if (element.isInteger(32))
    return fill(int32_t(), at::kInt);
  if (element.isInteger(8))
    return fill(int8_t(), at::kChar);
  return {};
}

} // namespace

LogicalResult mlir::qat::exportStateDict(ModuleOp module, StringRef path) {
  c10::Dict<std::string, at::Tensor> state;
  for (auto global : module.getOps<ml_program::GlobalOp>()) {
    auto values = dyn_cast_or_null<DenseElementsAttr>(global.getValueAttr());
    if (!values)
      return global.emitError("global '")
             << global.getSymName() << "' has no dense value to export";
    at::Tensor tensor = toTensor(values);
    if (!tensor.defined())
      return global.emitError("global '")
             << global.getSymName() << "' has element type "
             << values.getElementType() << ", which has no PyTorch dtype here";
    state.insert(global.getSymName().str(), tensor);
  }
  std::vector<char> bytes;
  try {
    bytes = torch::pickle_save(c10::IValue(state));
  } catch (const std::exception &error) {
    return module.emitError("cannot serialize the state: ") << error.what();
  }
  if (llvm::Error error =
          writeFileAtomically(path, [&](llvm::raw_pwrite_stream &os) {
            os.write(bytes.data(), bytes.size());
            return llvm::Error::success();
          }))
    return module.emitError("cannot write the state_dict: ")
           << llvm::toString(std::move(error));
  return success();
}
