//===- Targets.h - the CPU targets and their int8 microkernels --*- C++ -*-===//
//
// Part of qat-mlir. The one table of what code generation knows about CPUs:
// the targets (LLVM triple, CPU, features, vector registers: what
// qat-compile --target and the JIT's host choice use), and the int8
// instruction sets that --qat-lower-mmt4d has microkernels for (the
// data-tiled layout each one needs, which --qat-int8-conv-to-mmt4d packs
// for, and the CPU features it needs to run).
//
//===----------------------------------------------------------------------===//

#ifndef QAT_CODEGEN_CPU_TARGETS_H
#define QAT_CODEGEN_CPU_TARGETS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mlir::qat {

/// How one instruction computes an i32 lane from bytes.
enum class Int8Dot {
  /// x86 vpdpbusd: 4 unsigned x signed byte products per lane, accumulated.
  /// linalg.mmt4d multiplies signed bytes: the RHS is flipped to unsigned
  /// and 128 * sum(lhs) subtracted.
  UnsignedBySigned,
  /// AArch64 sdot: 4 signed x signed byte products per lane, accumulated.
  SignedBySigned,
  /// x86 vpmaddwd (AVX2): 2 signed 16-bit products per lane, added to the
  /// accumulator with vpaddd. The RHS bytes are sign-extended from memory;
  /// the LHS is packed as 16-bit values. Exact for any 8-bit operands
  /// (a pair's sum is at most 2 * 128 * 255 in magnitude), unlike the
  /// saturating u8 x s8 vpmaddubsw.
  Widened16,
  /// x86 vpmaddubsw (AVX2): 2 unsigned x signed byte products summed into
  /// a *saturating* i16, then vpmaddwd with ones into i32 (4 products per
  /// lane). Exact only where no pair can pass the i16 range: used only on
  /// products marked with kPairsProvenAttr.
  SaturatingPairs,
};

/// The attribute --qat-int8-conv-to-mmt4d puts on a linalg.mmt4d whose
/// RHS (constant weights) and LHS (codes of a known range) it has proven
/// cannot saturate a vpmaddubsw pair: the lowering may then use the
/// saturating instruction.
inline constexpr llvm::StringLiteral kPairsProvenAttr =
    "qat.pairs_proven_unsaturated";

/// An int8 GEMM microkernel: mmt4d tiles LHS M0 x K0, RHS N0 x K0 and
/// accumulators M0 x N0 (i32).
struct Int8Microkernel {
  /// --qat-lower-mmt4d's isa option.
  llvm::StringRef name;
  Int8Dot dot;
  /// N0: i32 lanes of one accumulator vector.
  int64_t lanes;
  /// M0: LHS rows per tile.
  int64_t rows;
  /// K0: products per lane per instruction.
  int64_t depth;
  /// Bits of the packed LHS elements (8, or 16 for Widened16).
  unsigned lhsBits;
  /// The LLVM intrinsic of the dot instruction.
  llvm::StringRef intrinsic;
  /// Vector registers: accumulators (rows x panels), the panels' RHS vectors
  /// and one broadcast must fit.
  int64_t registers;
  /// The CPU features (LLVM's names) it runs with: comma-separated, with
  /// `|` between alternatives.
  llvm::StringRef runsWith;
};

llvm::ArrayRef<Int8Microkernel> int8Microkernels();
/// Null for an unknown name.
const Int8Microkernel *lookupInt8Microkernel(llvm::StringRef isa);
/// The faster kernel that `kernel`'s isa may use on proven products
/// (kPairsProvenAttr): avx2's vpmaddubsw kernel; null for the others.
const Int8Microkernel *provenPairsKernel(const Int8Microkernel &kernel);

/// Whether u0 * w0 + u1 * w1 stays in i16 (vpmaddubsw does not saturate)
/// for every u0, u1 in [uMin, uMax] (0 <= uMin <= uMax <= 255).
bool pairCannotSaturate(int64_t w0, int64_t w1, int64_t uMin, int64_t uMax);
/// The names, for diagnostics: "avx512vnni, avxvnni, avx2 or dotprod".
std::string int8MicrokernelNames();

/// Whether a CPU with `features` (LLVM's names, as
/// llvm::sys::getHostCPUFeatures gives them) runs the microkernel.
bool int8MicrokernelRunsOn(const Int8Microkernel &kernel,
                           const llvm::StringMap<bool> &features);

/// The host's CPU features (llvm::sys::getHostCPUFeatures); environment
/// variable QAT_HOST_FEATURES, a comma-separated list such as
/// "avx2,fma,bmi2", replaces them (tests use it to act as another CPU).
llvm::StringMap<bool> hostCpuFeatures();

/// A code generation target: an LLVM triple, CPU and features, and the
/// microkernels of its int8 products (--qat-lower-mmt4d isa; empty:
/// generic loops).
struct CpuTarget {
  std::string name, triple, cpu, features, int8Isa, description;
  /// The CPU features its code needs (LLVM's names, comma-separated): what
  /// the `host` choice and the programs' run-time check test.
  std::string required;
  /// Its vector registers: width in bits and count (the f32 microkernel's
  /// and the direct convolutions' register blocking).
  unsigned vectorBits, vectorRegisters;
};

/// The targets, each architecture's best first.
llvm::ArrayRef<CpuTarget> cpuTargets();
/// A target by name; "host" is hostCpuTarget(); null for an unknown name.
const CpuTarget *lookupCpuTarget(llvm::StringRef name);
/// The best target this CPU runs (hostCpuFeatures(): QAT_HOST_FEATURES may
/// restrict them). qat-compile's `host` and the JIT's code use it.
const CpuTarget &hostCpuTarget();
/// The first of `target`'s required features this CPU lacks; empty if none
/// (or if `target` is for another architecture: the caller cross-compiles).
std::string missingHostFeature(const CpuTarget &target);

/// The best microkernel the host runs for its own architecture (what the
/// JIT's `host` isa means), or null.
const Int8Microkernel *hostInt8Microkernel();

/// The host's vector registers, for the JIT's register blocking (which
/// compiles for every feature the host has, so it follows the features,
/// not a target row): 512 x 32 with AVX-512, 256 x 16 with AVX, else
/// 128 x 16 on x86 and 128 x 32 elsewhere.
struct VectorRegisters {
  unsigned bits, count;
};
VectorRegisters hostVectorRegisters();
/// Why `bits` x `count` cannot be a target's vector registers (the
/// lowerings' vector-bits and vector-registers options), or empty: the width
/// must be 128, 256 or 512 bits, the count 8 to 64.
std::string invalidVectorRegisters(unsigned bits, unsigned count);

} // namespace mlir::qat

#endif // QAT_CODEGEN_CPU_TARGETS_H
