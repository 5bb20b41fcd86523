//===- Targets.cpp - the CPU targets and their int8 microkernels ----------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Targets.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Process.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir::qat;

llvm::ArrayRef<Int8Microkernel> mlir::qat::int8Microkernels() {
  static const Int8Microkernel kernels[] = {
      // 8 x 16 tiles, two panels: 16 zmm accumulators of 32.
      {"avx512vnni", Int8Dot::UnsignedBySigned, 16, 8, 4, 8,
       "llvm.x86.avx512.vpdpbusd.512", 32, "avx512f,avx512bw,avx512vnni"},
      // The VEX ymm form (AVX-VNNI, client Intel chips); LLVM encodes the
      // same intrinsic as EVEX where AVX512-VNNI and AVX512-VL exist, so the
      // JIT runs it there too.
      {"avxvnni", Int8Dot::UnsignedBySigned, 8, 8, 4, 8,
       "llvm.x86.avx512.vpdpbusd.256", 16,
       "avx2,avxvnni|avx2,avx512vnni,avx512vl"},
      // 6 x 16 tiles (two 8-lane panels): 12 of the 16 ymm registers hold
      // accumulators, two the widened RHS, one the LHS broadcast.
      {"avx2", Int8Dot::Widened16, 8, 6, 2, 16, "llvm.x86.avx2.pmadd.wd", 16,
       "avx2"},
      {"dotprod", Int8Dot::SignedBySigned, 4, 8, 4, 8,
       "llvm.aarch64.neon.sdot.v4i32.v16i8", 32, "dotprod"},
  };
  return kernels;
}

const Int8Microkernel *
mlir::qat::provenPairsKernel(const Int8Microkernel &kernel) {
  // 4 x 16 tiles (two 8-lane panels) of bytes: 8 accumulators, two RHS
  // vectors, the LHS broadcast, its sign flip, the ones of vpmaddwd and a
  // product in the 16 ymm registers.
  static const Int8Microkernel pairs = {"avx2-vpmaddubsw",
                                        Int8Dot::SaturatingPairs,
                                        8,
                                        4,
                                        4,
                                        8,
                                        "llvm.x86.avx2.pmadd.ub.sw",
                                        16,
                                        "avx2"};
  return kernel.name == "avx2" ? &pairs : nullptr;
}

bool mlir::qat::pairCannotSaturate(int64_t w0, int64_t w1, int64_t uMin,
                                   int64_t uMax) {
  // The sum is largest with the largest u on positive weights and the
  // smallest on negative ones, and smallest the other way round.
  auto extreme = [&](int64_t w, bool largest) {
    return w * ((w >= 0) == largest ? uMax : uMin);
  };
  int64_t high = extreme(w0, true) + extreme(w1, true);
  int64_t low = extreme(w0, false) + extreme(w1, false);
  return high <= INT16_MAX && low >= INT16_MIN;
}

const Int8Microkernel *mlir::qat::lookupInt8Microkernel(llvm::StringRef isa) {
  for (const Int8Microkernel &kernel : int8Microkernels())
    if (kernel.name == isa)
      return &kernel;
  return nullptr;
}

std::string mlir::qat::int8MicrokernelNames() {
  std::string names;
  llvm::ArrayRef<Int8Microkernel> kernels = int8Microkernels();
  for (auto [i, kernel] : llvm::enumerate(kernels)) {
    if (i > 0)
      names += i + 1 == kernels.size() ? " or " : ", ";
    names += kernel.name;
  }
  return names;
}

/// Whether `features` has every feature of the comma-separated `list`.
static bool hasFeatures(llvm::StringRef list,
                        const llvm::StringMap<bool> &features) {
  llvm::SmallVector<llvm::StringRef> names;
  list.split(names, ',', -1, /*KeepEmpty=*/false);
  return llvm::all_of(
      names, [&](llvm::StringRef name) { return features.lookup(name); });
}

bool mlir::qat::int8MicrokernelRunsOn(const Int8Microkernel &kernel,
                                      const llvm::StringMap<bool> &features) {
  llvm::SmallVector<llvm::StringRef> alternatives;
  kernel.runsWith.split(alternatives, '|');
  return llvm::any_of(alternatives, [&](llvm::StringRef list) {
    return hasFeatures(list, features);
  });
}

llvm::StringMap<bool> mlir::qat::hostCpuFeatures() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  // A test (or a user checking a program for an older CPU) may act as a
  // CPU with fewer features, never more: the code still runs on this one.
  if (std::optional<std::string> only =
          llvm::sys::Process::GetEnv("QAT_HOST_FEATURES")) {
    llvm::SmallVector<llvm::StringRef> allowed;
    llvm::StringRef(*only).split(allowed, ',', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef &name : allowed)
      name = name.trim();
    for (auto &entry : features)
      if (!llvm::is_contained(allowed, entry.getKey()))
        entry.setValue(false);
  }
  return features;
}

/// x86-64-v3's features that LLVM uses in generated code.
#define QAT_X86_64_V3 "avx,avx2,fma,bmi,bmi2,f16c,lzcnt,movbe"

llvm::ArrayRef<CpuTarget> mlir::qat::cpuTargets() {
  static const CpuTarget targets[] = {
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

const CpuTarget *mlir::qat::lookupCpuTarget(llvm::StringRef name) {
  if (name == "host")
    return &hostCpuTarget();
  for (const CpuTarget &target : cpuTargets())
    if (target.name == name)
      return &target;
  return nullptr;
}

static bool isHostArchitecture(const CpuTarget &target) {
  return llvm::Triple(target.triple).getArch() ==
         llvm::Triple(llvm::sys::getProcessTriple()).getArch();
}

std::string mlir::qat::missingHostFeature(const CpuTarget &target) {
  if (!isHostArchitecture(target))
    return "";
  llvm::StringMap<bool> features = hostCpuFeatures();
  llvm::SmallVector<llvm::StringRef> required;
  llvm::StringRef(target.required)
      .split(required, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef feature : required)
    if (!features.lookup(feature))
      return feature.str();
  return "";
}

const CpuTarget &mlir::qat::hostCpuTarget() {
  // Computed once: the CPU does not change under a running tool.
  static const CpuTarget *host = [] {
    for (const CpuTarget &target : cpuTargets())
      if (isHostArchitecture(target) && missingHostFeature(target).empty())
        return &target;
    // No target of this architecture: code that runs on any x86-64.
    return lookupCpuTarget("x86_64-generic");
  }();
  return *host;
}

const Int8Microkernel *mlir::qat::hostInt8Microkernel() {
  llvm::StringMap<bool> features = hostCpuFeatures();
  llvm::Triple host(llvm::sys::getProcessTriple());
  // The table lists each architecture's kernels best first. The JIT
  // compiles for all of the host's features, so a kernel may run where no
  // target's full feature list holds (avxvnni's EVEX form on AVX512-VNNI).
  for (const Int8Microkernel &kernel : int8Microkernels()) {
    bool x86 = kernel.intrinsic.starts_with("llvm.x86.");
    if (x86 == host.isX86() && int8MicrokernelRunsOn(kernel, features))
      return &kernel;
  }
  return nullptr;
}

VectorRegisters mlir::qat::hostVectorRegisters() {
  llvm::StringMap<bool> features = hostCpuFeatures();
  if (!llvm::Triple(llvm::sys::getProcessTriple()).isX86())
    return {128, 32};
  if (features.lookup("avx512f"))
    return {512, 32};
  if (features.lookup("avx"))
    return {256, 16};
  return {128, 16};
}

std::string mlir::qat::invalidVectorRegisters(unsigned bits, unsigned count) {
  if (bits != 128 && bits != 256 && bits != 512)
    return "vector-bits must be 128, 256 or 512, not " + std::to_string(bits);
  if (count < 8 || count > 64)
    return "vector-registers must be 8 to 64, not " + std::to_string(count);
  return "";
}
