//===- InitAll.cpp - register everything qat-mlir tools use -----*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/InitAll.h"
#include "qat/Codegen/CPU/Passes.h"
#include "qat/Conversion/Passes.h"
#include "qat/Dialect/Qat/Gradients/Gradients.h"
#include "qat/Dialect/Qat/IR/QatDialect.h"
#include "qat/Dialect/Qat/Transforms/BufferizableOpInterfaceImpl.h"
#include "qat/Dialect/Qat/Transforms/Passes.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Training/Transforms/Passes.h"

#include "mlir/Dialect/MLProgram/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void mlir::qat::registerAllDialects(DialectRegistry &registry) {
  registry.insert<QatDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // Not part of registerAllExtensions in LLVM 22; imported models keep their
  // parameters in ml_program globals.
  ml_program::registerBufferizableOpInterfaceExternalModels(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  registerGradientExternalModels(registry);
  qat::registerBufferizableOpInterfaceExternalModels(registry);
}

void mlir::qat::registerAllPasses() {
  mlir::registerAllPasses();
  registerQatConversionPasses();
  registerQatTransformsPasses();
  registerQatTrainingPasses();
  registerQatCodegenCPUPasses();
  registerPipelines();
}
