//===- Emit.cpp - LLVM IR, assembly, objects, headers, programs -----------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Int8Microkernels.h"
#include "qat/Codegen/CPU/Passes.h"
#include "qat/Compiler/Compiler.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Support/CodegenOptions.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir;
using namespace mlir::qat;

/// x86-64-v3's features that LLVM uses in generated code.
#define QAT_X86_64_V3 "avx,avx2,fma,bmi,bmi2,f16c,lzcnt,movbe"

const std::vector<CompileTarget> &mlir::qat::compileTargets() {
  static const std::vector<CompileTarget> targets = {
      {"x86_64-avx512vnni", "x86_64-unknown-linux-gnu", "x86-64-v4",
       "+avx512vnni", "avx512vnni",
       "x86-64 with AVX-512 and AVX512-VNNI (Ice Lake and "
       "later Xeons, AMD Zen 4)",
       QAT_X86_64_V3 ",avx512f,avx512bw,avx512cd,avx512dq,avx512vl,"
                     "avx512vnni",
       512, 32},
      {"x86_64-avxvnni", "x86_64-unknown-linux-gnu", "x86-64-v3", "+avxvnni",
       "avxvnni",
       "x86-64 with AVX2 and the VEX AVX-VNNI (Alder Lake and later client "
       "chips)",
       QAT_X86_64_V3 ",avxvnni", 256, 16},
      {"x86_64-avx2", "x86_64-unknown-linux-gnu", "x86-64-v3", "", "avx2",
       "x86-64-v3: AVX2, FMA, BMI2 (Haswell and later, AMD Zen 1-3); exact "
       "int8 with vpmaddwd",
       QAT_X86_64_V3, 256, 16},
      {"x86_64-generic", "x86_64-unknown-linux-gnu", "x86-64", "", "",
       "any x86-64 (SSE2)", "", 128, 16},
      {"aarch64-dotprod", "aarch64-unknown-linux-gnu", "generic",
       "+v8.2a,+neon,+dotprod", "dotprod",
       "AArch64 with the dot-product extension "
       "(Armv8.2-A+dotprod: Neoverse N1, Cortex-A76 "
       "and later)",
       "dotprod", 128, 32},
      {"aarch64-generic", "aarch64-unknown-linux-gnu", "generic", "+neon", "",
       "any AArch64 (Armv8-A with NEON)", "", 128, 32},
  };
  return targets;
}

#undef QAT_X86_64_V3

const CompileTarget *mlir::qat::lookupCompileTarget(StringRef name) {
  if (name == "host")
    return &hostCompileTarget();
  for (const CompileTarget &target : compileTargets())
    if (target.name == name)
      return &target;
  return nullptr;
}

static bool isHostArchitecture(const CompileTarget &target) {
  return llvm::Triple(target.triple).getArch() ==
         llvm::Triple(llvm::sys::getProcessTriple()).getArch();
}

std::string mlir::qat::missingHostFeature(const CompileTarget &target) {
  if (!isHostArchitecture(target))
    return "";
  llvm::StringMap<bool> features = hostCpuFeatures();
  SmallVector<StringRef> required;
  StringRef(target.required).split(required, ',', -1, /*KeepEmpty=*/false);
  for (StringRef feature : required)
    if (!features.lookup(feature))
      return feature.str();
  return "";
}

const CompileTarget &mlir::qat::hostCompileTarget() {
  // Computed once: the CPU does not change under a running tool.
  static const CompileTarget *host = [] {
    for (const CompileTarget &target : compileTargets())
      if (isHostArchitecture(target) && missingHostFeature(target).empty())
        return &target;
    // No target of this architecture: code that runs on any x86-64.
    return lookupCompileTarget("x86_64-generic");
  }();
  return *host;
}

namespace {

std::string shapeList(ArrayRef<int64_t> shape) {
  return llvm::join(
      llvm::map_range(shape, [](int64_t d) { return std::to_string(d); }),
      ", ");
}

std::string floatLiteral(float value) {
  return llvm::formatv("{0:e9}f", value).str();
}

std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const CompileTarget &target, unsigned optLevel,
                    std::string &error) {
  llvm::InitializeAllTargetInfos();
  llvm::InitializeAllTargets();
  llvm::InitializeAllTargetMCs();
  llvm::InitializeAllAsmPrinters();
  llvm::Triple triple(target.triple);
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return nullptr;
  llvm::CodeGenOptLevel level =
      optLevel >= 3   ? llvm::CodeGenOptLevel::Aggressive
      : optLevel == 0 ? llvm::CodeGenOptLevel::None
                      : llvm::CodeGenOptLevel::Default;
  return std::unique_ptr<llvm::TargetMachine>(llvmTarget->createTargetMachine(
      triple, target.cpu, target.features, llvm::TargetOptions(),
      llvm::Reloc::PIC_, std::nullopt, level));
}

/// Writes through a temporary file that becomes `path` only on success.
LogicalResult
writeFile(Location loc, StringRef path,
          llvm::function_ref<LogicalResult(llvm::raw_pwrite_stream &)> write) {
  std::string error;
  auto file = mlir::openOutputFile(path, &error);
  if (!file)
    return emitError(loc) << error;
  if (failed(write(file->os())))
    return failure();
  file->keep();
  return success();
}

/// Runs `program` with `arguments`; its output goes to our stderr.
LogicalResult runProgram(Location loc, StringRef program,
                         ArrayRef<std::string> arguments) {
  SmallVector<StringRef> argv{program};
  for (const std::string &argument : arguments)
    argv.push_back(argument);
  std::string error;
  int status =
      llvm::sys::ExecuteAndWait(program, argv, std::nullopt, {}, 0, 0, &error);
  if (status != 0)
    return emitError(loc) << "'" << program << "' failed"
                          << (error.empty() ? "" : ": ") << error << " ("
                          << llvm::join(argv, " ") << ")";
  return success();
}

} // namespace

std::string mlir::qat::makeHeader(const ModelInterface &interface,
                                  const EmitOptions &options) {
  std::string name = options.name;
  std::string upper = StringRef(name).upper();
  int64_t inRank = interface.inputShape.size(),
          outRank = interface.outputShape.size();
  auto count = [](ArrayRef<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  };
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "/* Generated by qat-compile: the "
     << (interface.quantized ? "int8" : "float") << " model '" << name
     << "' for " << options.target->name << " (" << options.target->triple
     << ").\n"
     << " *\n"
     << " * " << name << "_run(input, output) classifies one batch: input "
     << "is f32 [" << shapeList(interface.inputShape) << "] (NCHW),\n"
     << " * output f32 [" << shapeList(interface.outputShape) << "].\n";
  if (interface.quantized)
    os << " * Inside, the input is quantized once, all layers compute in "
          "integers, and\n * the output codes are dequantized.\n";
  os << " * The object is position independent and needs only libc: it "
        "mallocs its\n"
     << " * temporaries on every call (with glibc, mallopt(M_MMAP_THRESHOLD, "
        "1 << 30)\n"
     << " * keeps them in the process instead of faulting them in again each "
        "call). */\n"
     << "#ifndef QAT_MODEL_" << upper << "_H\n#define QAT_MODEL_" << upper
     << "_H\n\n#include <stdint.h>\n\n";
  os << "#define " << upper << "_BATCH " << interface.inputShape[0] << "\n";
  os << "#define " << upper << "_INPUT_ELEMENTS " << count(interface.inputShape)
     << "\n";
  os << "#define " << upper << "_OUTPUT_ELEMENTS "
     << count(interface.outputShape) << "\n";
  os << "#define " << upper << "_CLASSES " << interface.outputShape.back()
     << "\n";
  if (interface.quantized) {
    os << "/* Input codes: clamp(round_half_even(x * (1/s)) + z, "
       << interface.inputQuantMin << ", " << interface.inputQuantMax
       << "); output = (code - z) * s. */\n";
    os << "#define " << upper << "_INPUT_SCALE "
       << floatLiteral(interface.inputScale) << "\n";
    os << "#define " << upper << "_INPUT_ZERO_POINT "
       << interface.inputZeroPoint << "\n";
    os << "#define " << upper << "_OUTPUT_SCALE "
       << floatLiteral(interface.outputScale) << "\n";
    os << "#define " << upper << "_OUTPUT_ZERO_POINT "
       << interface.outputZeroPoint << "\n";
  }
  os << "/* The images' normalization in training: (pixel / 255 - mean) / "
        "std. */\n";
  os << "#define " << upper << "_INPUT_MEAN " << floatLiteral(options.inputMean)
     << "\n";
  os << "#define " << upper << "_INPUT_STD " << floatLiteral(options.inputStd)
     << "\n\n";

  auto descriptor = [&](StringRef kind, int64_t rank) {
    os << "typedef struct {\n  float *allocated;\n  float *aligned;\n"
       << "  int64_t offset;\n  int64_t sizes[" << rank << "];\n"
       << "  int64_t strides[" << rank << "];\n} " << name << "_" << kind
       << "_memref;\n\n";
  };
  descriptor("input", inRank);
  descriptor("output", outRank);
  os << "/* The compiled function (MLIR's C interface: memref descriptors, "
        "the result\n * as a trailing out-parameter). */\n"
     << "void _mlir_ciface_" << name << "(" << name << "_input_memref *input, "
     << name << "_output_memref *output);\n\n";
  auto fill = [&](StringRef var, StringRef pointer, ArrayRef<int64_t> shape) {
    os << "  " << var << ".allocated = " << var << ".aligned = (float *)"
       << pointer << ";\n  " << var << ".offset = 0;\n";
    int64_t stride = 1;
    for (int64_t d = shape.size() - 1; d >= 0; --d) {
      os << "  " << var << ".sizes[" << d << "] = " << shape[d] << ";  " << var
         << ".strides[" << d << "] = " << stride << ";\n";
      stride *= shape[d];
    }
  };
  os << "/* The run-time CPU check (compiled for the baseline "
        "of the architecture):\n"
     << " * NULL when this CPU has every feature the code needs ("
     << (options.target->required.empty() ? "none" : options.target->required)
     << "),\n * else the first it lacks; and the qat-compile target this "
        "CPU runs best. */\n"
     << "const char *" << name << "_missing_cpu_feature(void);\n"
     << "const char *" << name << "_best_target(void);\n\n";
  os << "/* Plain C: row-major arrays of " << upper << "_INPUT_ELEMENTS and "
     << upper << "_OUTPUT_ELEMENTS floats. Returns 0, or -1 without running "
     << "when\n * this CPU lacks a feature of the target (calling _mlir_ciface_"
     << name << " there\n * would die of an illegal instruction). */\n"
     << "static inline int " << name
     << "_run(const float *input, float *output) {\n"
     << "  if (" << name << "_missing_cpu_feature())\n    return -1;\n"
     << "  " << name << "_input_memref in;\n  " << name
     << "_output_memref out;\n";
  fill("in", "input", interface.inputShape);
  fill("out", "output", interface.outputShape);
  os << "  _mlir_ciface_" << name << "(&in, &out);\n  return 0;\n}\n\n";
  // Generic names for the classifier program.
  for (StringRef suffix : {"BATCH", "INPUT_ELEMENTS", "OUTPUT_ELEMENTS",
                           "CLASSES", "INPUT_MEAN", "INPUT_STD"})
    os << "#define QAT_MODEL_" << suffix << " " << upper << "_" << suffix
       << "\n";
  os << "#define QAT_MODEL_RUN " << name << "_run\n";
  os << "#define QAT_MODEL_MISSING_CPU_FEATURE " << name
     << "_missing_cpu_feature\n";
  os << "#define QAT_MODEL_BEST_TARGET " << name << "_best_target\n";
  os << "#define QAT_MODEL_NAME \"" << name << "\"\n";
  os << "#define QAT_MODEL_TARGET \"" << options.target->name << "\"\n";
  os << "\n#endif\n";
  return s;
}

LogicalResult mlir::qat::emit(ModuleOp module, const ModelInterface &interface,
                              const EmitOptions &options,
                              StringRef outputPath) {
  Location loc = module.getLoc();
  if (options.kind == EmitKind::MLIR)
    return writeFile(loc, outputPath, [&](llvm::raw_pwrite_stream &os) {
      module.print(os);
      return success();
    });
  if (options.kind == EmitKind::Header)
    return writeFile(loc, outputPath, [&](llvm::raw_pwrite_stream &os) {
      os << makeHeader(interface, options);
      return success();
    });

  PassManager pm(module.getContext());
  if (!options.target->int8Isa.empty()) {
    // Convolutions on the target's dot-product microkernel.
    Int8ConvToMmt4dOptions mmt4d;
    mmt4d.isa = options.target->int8Isa;
    mmt4d.report = options.reportKernels;
    pm.addPass(createInt8ConvToMmt4d(mmt4d));
  }
  LowerToLLVMOptions lowering;
  lowering.int8Isa = options.target->int8Isa;
  lowering.vectorBits = options.target->vectorBits;
  lowering.vectorRegisters = options.target->vectorRegisters;
  buildLowerToLLVMPipeline(pm, lowering);
  if (failed(pm.run(module)))
    return failure();
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return emitError(loc) << "translation to LLVM IR failed";
  std::string error;
  std::unique_ptr<llvm::TargetMachine> machine =
      createTargetMachine(*options.target, options.optLevel, error);
  if (!machine)
    return emitError(loc) << "target '" << options.target->name
                          << "': " << error;
  llvmModule->setTargetTriple(machine->getTargetTriple());
  llvmModule->setDataLayout(machine->createDataLayout());
  auto optimize = makeOptimizingTransformer(options.optLevel, /*sizeLevel=*/0,
                                            machine.get());
  if (llvm::Error err = optimize(llvmModule.get()))
    return emitError(loc) << "LLVM optimization failed: "
                          << llvm::toString(std::move(err));

  if (options.kind == EmitKind::LLVM)
    return writeFile(loc, outputPath, [&](llvm::raw_pwrite_stream &os) {
      llvmModule->print(os, nullptr);
      return success();
    });
  auto emitMachineCode = [&](llvm::raw_pwrite_stream &os,
                             llvm::CodeGenFileType type) -> LogicalResult {
    configureCodegenForGeneratedCode();
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr, type))
      return emitError(loc) << "the target cannot emit this file type";
    codegen.run(*llvmModule);
    return success();
  };
  if (options.kind == EmitKind::Asm)
    return writeFile(loc, outputPath, [&](llvm::raw_pwrite_stream &os) {
      return emitMachineCode(os, llvm::CodeGenFileType::AssemblyFile);
    });

  // Object, library or program: the model's object and the run-time CPU
  // check's in a temporary directory, linked by clang (and lld) into a
  // temporary file that becomes the output.
  SmallString<128> directory;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("qat-compile", directory))
    return emitError(loc) << "cannot create a temporary directory: "
                          << ec.message();
  llvm::scope_exit cleanup(
      [&] { (void)llvm::sys::fs::remove_directories(directory); });
  std::string object = (directory + "/model.o").str();
  std::string check = (directory + "/cpu_check.o").str();
  std::string header = (directory + "/model.h").str();
  std::string linked = (directory + "/linked").str();
  if (failed(writeFile(loc, object,
                       [&](llvm::raw_pwrite_stream &os) {
                         return emitMachineCode(
                             os, llvm::CodeGenFileType::ObjectFile);
                       })) ||
      failed(writeFile(loc, header, [&](llvm::raw_pwrite_stream &os) {
        os << makeHeader(interface, options);
        return success();
      })))
    return failure();
  // The check is compiled for the architecture's baseline (no -march), so
  // that it runs, and tells, on every CPU of it.
  std::string targetTable;
  llvm::Triple::ArchType arch = llvm::Triple(options.target->triple).getArch();
  for (const CompileTarget &target : compileTargets())
    if (llvm::Triple(target.triple).getArch() == arch)
      targetTable += (targetTable.empty() ? "" : ";") + target.name + "=" +
                     target.required;
  std::vector<std::string> checkArgs = {
      "--target=" + options.target->triple,
      // Standard C: no predefined `linux` or `unix` macro can replace the
      // model's name in the symbols.
      "-std=c11", "-O2", "-fPIC", "-c", "-DQAT_CHECK_PREFIX=" + options.name,
      "-DQAT_REQUIRED=\"" + options.target->required + "\"",
      "-DQAT_TARGETS=\"" + targetTable + "\""};
  if (options.kind == EmitKind::Lib)
    checkArgs.push_back("-DQAT_CHECK_ON_LOAD");
  checkArgs.insert(checkArgs.end(), {options.cpuCheckSource, "-o", check});
  if (failed(runProgram(loc, options.clang, checkArgs)))
    return failure();

  std::vector<std::string> args = {"--target=" + options.target->triple,
                                   "-fuse-ld=lld"};
  if (options.kind == EmitKind::Obj) {
    args.insert(args.end(), {"-r", "-nostdlib", object, check, "-o", linked});
  } else if (options.kind == EmitKind::Lib) {
    args.insert(args.end(), {"-shared", object, check, "-o", linked});
  } else {
    // A static program: it runs on any Linux of the target (and under
    // qemu-user) without a sysroot.
    args.insert(args.end(),
                {"-O2", "-static", "-include", header, options.runtimeSource,
                 object, check, "-o", linked, "-lm"});
  }
  if (failed(runProgram(loc, options.clang, args)))
    return failure();
  // "-": the bytes to stdout, as the other kinds write them.
  if (outputPath == "-") {
    auto bytes = llvm::MemoryBuffer::getFile(linked, /*IsText=*/false);
    if (!bytes)
      return emitError(loc) << "cannot read '" << linked
                            << "': " << bytes.getError().message();
    llvm::outs() << (*bytes)->getBuffer();
    llvm::outs().flush();
    return success();
  }
  (void)llvm::sys::fs::remove(outputPath);
  if (std::error_code ec = llvm::sys::fs::copy_file(linked, outputPath))
    return emitError(loc) << "cannot write '" << outputPath
                          << "': " << ec.message();
  if (options.kind == EmitKind::Exe)
    (void)llvm::sys::fs::setPermissions(
        outputPath, llvm::sys::fs::all_read | llvm::sys::fs::all_exe |
                        llvm::sys::fs::owner_write);
  return success();
}
