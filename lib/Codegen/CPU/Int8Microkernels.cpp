//===- Int8Microkernels.cpp - the int8 GEMM microkernels per ISA ----------===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#include "qat/Codegen/CPU/Int8Microkernels.h"

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
       "llvm.x86.avx512.vpdpbusd.512", 32},
      // The VEX ymm form (AVX-VNNI, client Intel chips); LLVM encodes the
      // same intrinsic as EVEX where AVX512-VNNI and AVX512-VL exist.
      {"avxvnni", Int8Dot::UnsignedBySigned, 8, 8, 4, 8,
       "llvm.x86.avx512.vpdpbusd.256", 16},
      // 6 x 16 tiles (two 8-lane panels): 12 of the 16 ymm registers hold
      // accumulators, two the widened RHS, one the LHS broadcast.
      {"avx2", Int8Dot::Widened16, 8, 6, 2, 16, "llvm.x86.avx2.pmadd.wd", 16},
      {"dotprod", Int8Dot::SignedBySigned, 4, 8, 4, 8,
       "llvm.aarch64.neon.sdot.v4i32.v16i8", 32},
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
                                        16};
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

bool mlir::qat::int8MicrokernelRunsOn(const Int8Microkernel &kernel,
                                      const llvm::StringMap<bool> &features) {
  auto has = [&](llvm::StringRef feature) { return features.lookup(feature); };
  llvm::StringRef name = kernel.name;
  if (name == "avx512vnni")
    return has("avx512f") && has("avx512bw") && has("avx512vnni");
  if (name == "avxvnni")
    return has("avx2") &&
           (has("avxvnni") || (has("avx512vnni") && has("avx512vl")));
  if (name == "avx2")
    return has("avx2");
  if (name == "dotprod")
    return has("dotprod");
  return false;
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

const Int8Microkernel *mlir::qat::hostInt8Microkernel() {
  llvm::StringMap<bool> features = hostCpuFeatures();
  llvm::Triple host(llvm::sys::getProcessTriple());
  // The table lists each architecture's kernels best first.
  for (const Int8Microkernel &kernel : int8Microkernels()) {
    bool x86 = kernel.intrinsic.starts_with("llvm.x86.");
    if (x86 != host.isX86())
      continue;
    if (int8MicrokernelRunsOn(kernel, features))
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
