//===- Compiler.h - trained modules to native int8 code ---------*- C++ -*-===//
//
// Part of qat-mlir. The library behind qat-compile: a deployable function
// with the trained values bound and evaluated, targets, and the emission of
// LLVM IR, assembly, objects, headers, libraries and executables.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_COMPILER_COMPILER_H
#define QAT_COMPILER_COMPILER_H

#include "qat/Codegen/CPU/Targets.h"
#include "qat/ExecutionEngine/JitRunner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlir::qat {

/// What the deployed function consumes and produces, for the header and
/// the classifier program.
struct ModelInterface {
  std::vector<int64_t> inputShape, outputShape;
  /// Quantization of the input (codes = clamp(round(x / s) + z)) and of the
  /// output (logits = (code - z) * s).
  float inputScale = 0, outputScale = 0;
  int32_t inputZeroPoint = 0, outputZeroPoint = 0;
  int64_t inputQuantMin = 0, inputQuantMax = 0;
  /// Whether the function quantizes anything.
  bool quantized = false;
  /// Whether the input is quantized and the output dequantized codes (else
  /// the first or last ops compute in float and that scale and zero-point
  /// are unused).
  bool inputQuantized = false, outputQuantized = false;
  /// Ops that compute in float on the way from the input to the output,
  /// besides dequantizations (--qat-fold-quant=allow-float).
  unsigned floatOps = 0;
};

/// Makes `@name(input) -> outputs` in a new module from `function` of
/// `module` (a func.func whose arguments are `qat.state` globals of the
/// module plus one `qat.input`): the state arguments become the globals'
/// trained values, and every value computed from them alone (quantized
/// weights, biases, multipliers) is evaluated once by compiling that part
/// with the JIT, so the result holds constants only. Errors are reported
/// on `module`'s diagnostics.
FailureOr<OwningOpRef<ModuleOp>>
buildDeployableModule(ModuleOp module, StringRef function, StringRef name,
                      const JitOptions &jitOptions);

/// Reads the shapes, and the input and output quantization off a deployable
/// int8 function (the qat.quantize of its input and the qat.dequantize it
/// returns, where it has them), and counts its float ops.
/// A float function (`requireQuantized` false) has no quantization: `quantized`
/// is false.
FailureOr<ModelInterface> readInterface(func::FuncOp function,
                                        bool requireQuantized = true);

/// Proves that no i32 accumulator of a convolution (plain or grouped) or
/// matmul with constant weights can overflow: per output channel,
/// sum |w| * (largest |code - z| of its input: 255 on an 8-bit grid, times
/// the windows of average poolings on the way) + |bias| < 2^31. Diagnoses
/// the layer otherwise.
LogicalResult checkAccumulatorBounds(func::FuncOp function);

/// The running variances of the module's batch norms, read from their
/// trained globals: a negative or non-finite one (a corrupt or diverged
/// model) is diagnosed on the batch norm, naming the state, before folding
/// turns it into NaN weights and out-of-range biases.
LogicalResult checkBatchNormStatistics(ModuleOp module);

/// What to deploy from a trained module, and how.
struct DeployOptions {
  /// The evaluation function to deploy; empty: evaluationFunction(module).
  std::string function;
  /// Deploy it in float rather than as its integer form.
  bool keepFloat = false;
  /// Ops without an integer form are an error rather than float islands.
  bool strictInt8 = false;
  /// Rebatch the deployed function to this batch.
  std::optional<int64_t> batch;
  /// The deployed function's name (the C interface's symbol prefix).
  std::string name = "model";
};

struct DeployedModel {
  /// `@<name>(input) -> output` with constants only.
  OwningOpRef<ModuleOp> module;
  ModelInterface interface;
};

/// qat-compile's front half: checks the batch norms' statistics, runs the
/// deployment pipeline on `module` (in place: the integer form, the
/// rebatching), binds and evaluates the trained constants
/// (buildDeployableModule), proves the accumulators cannot overflow and
/// reads the interface. Errors are reported on `module`'s diagnostics.
FailureOr<DeployedModel> deployModule(ModuleOp module,
                                      const DeployOptions &options,
                                      const JitOptions &jitOptions);

/// The input normalization `module` was trained with (qat.input_mean and
/// qat.input_std, recorded by qat-train and the Python Trainer), if any.
std::optional<std::pair<float, float>> recordedNormalization(ModuleOp module);

enum class EmitKind { MLIR, LLVM, Asm, Obj, Header, Lib, Exe };

struct EmitOptions {
  EmitKind kind = EmitKind::Obj;
  const CpuTarget *target = nullptr;
  /// A remark per convolution: which int8 kernel runs it, and why
  /// (--qat-int8-conv-to-mmt4d report).
  bool reportKernels = false;
  /// Symbol prefix of the C interface.
  std::string name = "model";
  unsigned optLevel = 3;
  /// The input normalization the model was trained with (pixel / 255 -
  /// mean) / std, for the classifier program.
  float inputMean = 0, inputStd = 1;
  /// clang (for obj/lib/exe), the classifier program's C source (for exe)
  /// and the run-time CPU check's (lib/Runtime/cpu_check.c).
  std::string clang, runtimeSource, cpuCheckSource;
};

/// Lowers the deployable module (in place) and writes what `options.kind`
/// asks for to `outputPath`; nothing is left at `outputPath` on failure.
LogicalResult emit(ModuleOp module, const ModelInterface &interface,
                   const EmitOptions &options, StringRef outputPath);

/// The C header that describes the compiled function's interface.
std::string makeHeader(const ModelInterface &interface,
                       const EmitOptions &options);

} // namespace mlir::qat

#endif // QAT_COMPILER_COMPILER_H
