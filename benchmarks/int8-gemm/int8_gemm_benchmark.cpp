//===- int8_gemm_benchmark.cpp - int8 GEMMs against oneDNN and f32 --------===//
//
// Part of qat-mlir. One core, side by side in one run (Google Benchmark),
// for every shape of benchmarks/int8-gemm/generate.py (the square 1024^3
// GEMM and the small CNN's and MobileNetV2's layers as GEMMs):
//   - qat-mlir's int8 GEMM on the host's microkernel (--qat-lower-to-llvm
//     int8-isa=<host>): A packed per call, B packed beforehand as
//     qat-compile packs weights; checked against a scalar product;
//   - on AVX2, qat-mlir's vpmaddubsw kernel, which qat-compile uses where
//     it proves that no pair saturates (here: A in [-128, -1]);
//   - qat-mlir's f32 GEMM (the FMA microkernel training runs on);
//   - oneDNN's matmul primitive (u8 x s8 -> s32), B reordered beforehand
//     into the primitive's preferred layout. On AVX2 without VNNI oneDNN
//     multiplies with vpmaddubsw, whose i16 pair sums saturate: not exact.
// plus the throughput of the host's int8 multiply-add instruction alone.
// Each reports multiply-adds per second as "MAC/s"; run.py turns them into
// the ratios of docs/performance.md.
//
//===----------------------------------------------------------------------===//

#include <benchmark/benchmark.h>
#include <dnnl.hpp>

// shapes.inc: QAT_INT8_ISA, QAT_INT8_TILES and one QAT_SHAPE(...) a shape.
#define QAT_SHAPE(i, name, m, k, n)
#include "shapes.inc"
#undef QAT_SHAPE

#include <cstdint>
#include <malloc.h>
#include <random>
#include <string>
#include <vector>

namespace {

template <int Rank, typename T> struct MemRef {
  T *allocated, *aligned;
  int64_t offset, sizes[Rank], strides[Rank];
};

template <int Rank, typename T>
MemRef<Rank, T> view(T *data, const int64_t (&sizes)[Rank]) {
  MemRef<Rank, T> m{data, data, 0, {}, {}};
  int64_t stride = 1;
  for (int d = Rank - 1; d >= 0; --d) {
    m.sizes[d] = sizes[d];
    m.strides[d] = stride;
    stride *= sizes[d];
  }
  return m;
}

using Int8Gemm = void (*)(MemRef<2, int8_t> *, MemRef<4, int8_t> *,
                          MemRef<2, int32_t> *);
using FloatGemm = void (*)(MemRef<2, float> *, MemRef<4, float> *,
                           MemRef<2, float> *);

} // namespace

#ifdef QAT_PROVEN_TILES
#define QAT_PROVEN_GEMM(i)                                                     \
  extern "C" void _mlir_ciface_gemm_i8p_##i(                                   \
      MemRef<2, int8_t> *, MemRef<4, int8_t> *, MemRef<2, int32_t> *);
#define QAT_PROVEN_POINTER(i) _mlir_ciface_gemm_i8p_##i
#else
#define QAT_PROVEN_GEMM(i)
#define QAT_PROVEN_POINTER(i) nullptr
#endif
#define QAT_SHAPE(i, name, m, k, n)                                            \
  extern "C" void _mlir_ciface_gemm_i8_##i(                                    \
      MemRef<2, int8_t> *, MemRef<4, int8_t> *, MemRef<2, int32_t> *);         \
  extern "C" void _mlir_ciface_gemm_f32_##i(                                   \
      MemRef<2, float> *, MemRef<4, float> *, MemRef<2, float> *);             \
  QAT_PROVEN_GEMM(i)
#include "shapes.inc"
#undef QAT_SHAPE

namespace {

struct Shape {
  const char *name;
  int64_t m, k, n;
  Int8Gemm int8;
  FloatGemm f32;
  /// The vpmaddubsw kernel on a product proven not to saturate (avx2).
  Int8Gemm proven;
};

const Shape kShapes[] = {
#define QAT_SHAPE(i, name, m, k, n)                                            \
  {name,                                                                       \
   m,                                                                          \
   k,                                                                          \
   n,                                                                          \
   _mlir_ciface_gemm_i8_##i,                                                   \
   _mlir_ciface_gemm_f32_##i,                                                  \
   QAT_PROVEN_POINTER(i)},
#include "shapes.inc"
#undef QAT_SHAPE
};

struct Tiles {
  int64_t rows, depth, lanes;
};
constexpr Tiles kInt8Tiles = QAT_INT8_TILES;
#ifdef QAT_PROVEN_TILES
constexpr Tiles kProvenTiles = QAT_PROVEN_TILES;
#else
constexpr Tiles kProvenTiles = QAT_INT8_TILES;
#endif
constexpr Tiles kFloatTiles = {8, 1, 16};

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// B (K x N) into RHS tiles: bp[n1][k1][n0][k0] = b[k1*K0+k0][n1*N0+n0],
/// zero-padded.
template <typename T>
std::vector<T> packRhs(const std::vector<T> &b, int64_t k, int64_t n,
                       Tiles tiles) {
  int64_t k1s = ceilDiv(k, tiles.depth), n1s = ceilDiv(n, tiles.lanes);
  std::vector<T> bp(n1s * k1s * tiles.lanes * tiles.depth, T(0));
  for (int64_t n1 = 0; n1 < n1s; ++n1)
    for (int64_t k1 = 0; k1 < k1s; ++k1)
      for (int64_t n0 = 0; n0 < tiles.lanes; ++n0)
        for (int64_t k0 = 0; k0 < tiles.depth; ++k0) {
          int64_t row = k1 * tiles.depth + k0, col = n1 * tiles.lanes + n0;
          if (row < k && col < n)
            bp[((n1 * k1s + k1) * tiles.lanes + n0) * tiles.depth + k0] =
                b[row * n + col];
        }
  return bp;
}

void setMacs(benchmark::State &state, const Shape &shape) {
  state.counters["MAC/s"] =
      benchmark::Counter(double(shape.m) * shape.k * shape.n,
                         benchmark::Counter::kIsIterationInvariantRate);
}

/// `gemm` on tiles `tiles`. A's values are in [-128, -1] for the proven
/// kernel: its unsigned operand a + 128 is then at most 127, where no
/// weight pair can saturate vpmaddubsw (what qat-compile proves for 7-bit
/// activation codes).
void qatMlirInt8(benchmark::State &state, const Shape &shape, Int8Gemm gemm,
                 Tiles tiles, bool proven) {
  std::mt19937 rng(0);
  std::vector<int8_t> a(shape.m * shape.k), b(shape.k * shape.n);
  for (auto &v : a)
    v = proven ? int8_t(-1 - int(rng() % 128)) : int8_t(rng());
  for (auto &v : b)
    v = int8_t(rng());
  std::vector<int8_t> bp = packRhs(b, shape.k, shape.n, tiles);
  std::vector<int32_t> c(shape.m * shape.n);
  auto ma = view<2>(a.data(), {shape.m, shape.k});
  auto mb = view<4>(bp.data(),
                    {ceilDiv(shape.n, tiles.lanes),
                     ceilDiv(shape.k, tiles.depth), tiles.lanes, tiles.depth});
  auto mc = view<2>(c.data(), {shape.m, shape.n});
  for (auto _ : state) {
    gemm(&ma, &mb, &mc);
    benchmark::DoNotOptimize(c.data());
  }
  // Exact: a few elements against a scalar product.
  for (int64_t i : {int64_t(0), shape.m / 2, shape.m - 1})
    for (int64_t j : {int64_t(0), shape.n / 3, shape.n - 1}) {
      int32_t want = 0;
      for (int64_t k = 0; k < shape.k; ++k)
        want += int32_t(a[i * shape.k + k]) * int32_t(b[k * shape.n + j]);
      if (c[i * shape.n + j] != want)
        state.SkipWithError("qat-mlir's int8 GEMM differs from the reference");
    }
  setMacs(state, shape);
}

void qatMlirFloat(benchmark::State &state, const Shape &shape) {
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> value(-1, 1);
  std::vector<float> a(shape.m * shape.k), b(shape.k * shape.n);
  for (auto &v : a)
    v = value(rng);
  for (auto &v : b)
    v = value(rng);
  std::vector<float> bp = packRhs(b, shape.k, shape.n, kFloatTiles);
  std::vector<float> c(shape.m * shape.n);
  auto ma = view<2>(a.data(), {shape.m, shape.k});
  auto mb = view<4>(bp.data(), {ceilDiv(shape.n, kFloatTiles.lanes),
                                ceilDiv(shape.k, kFloatTiles.depth),
                                kFloatTiles.lanes, kFloatTiles.depth});
  auto mc = view<2>(c.data(), {shape.m, shape.n});
  for (auto _ : state) {
    shape.f32(&ma, &mb, &mc);
    benchmark::DoNotOptimize(c.data());
  }
  setMacs(state, shape);
}

void oneDnnInt8(benchmark::State &state, const Shape &shape) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::desc aDesc({shape.m, shape.k}, memory::data_type::u8,
                     memory::format_tag::ab);
  memory::desc bAny({shape.k, shape.n}, memory::data_type::s8,
                    memory::format_tag::any);
  memory::desc bDesc({shape.k, shape.n}, memory::data_type::s8,
                     memory::format_tag::ab);
  memory::desc cDesc({shape.m, shape.n}, memory::data_type::s32,
                     memory::format_tag::ab);
  matmul::primitive_desc pd(matmul::desc(aDesc, bAny, cDesc), eng);
  memory a(aDesc, eng), bPlain(bDesc, eng), b(pd.weights_desc(), eng),
      c(cDesc, eng);
  std::mt19937 rng(0);
  for (int64_t i = 0; i < shape.m * shape.k; ++i)
    static_cast<uint8_t *>(a.get_data_handle())[i] = uint8_t(rng());
  for (int64_t i = 0; i < shape.k * shape.n; ++i)
    static_cast<int8_t *>(bPlain.get_data_handle())[i] = int8_t(rng());
  reorder(bPlain, b).execute(s, bPlain, b);
  matmul prim(pd);
  for (auto _ : state) {
    prim.execute(s,
                 {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    s.wait();
  }
  setMacs(state, shape);
}

/// 12 independent chains of the int8 multiply-add: the instruction's
/// throughput, the ceiling of any kernel built on it.
void instructionPeak(benchmark::State &state) {
  const int64_t iterations = 1 << 20;
  std::string isa = QAT_INT8_ISA;
  double macsPerInstruction;
  for (auto _ : state) {
    if (isa == "avx512vnni") {
      macsPerInstruction = 64;
      asm volatile("mov %0, %%rcx\n"
                   "1:\n"
                   ".rept 12\n"
                   "vpdpbusd %%zmm14, %%zmm15, %%zmm0\n"
                   ".endr\n"
                   "dec %%rcx\n"
                   "jnz 1b\n"
                   :
                   : "r"(iterations)
                   : "rcx", "xmm0", "cc");
    } else {
      // vpmaddwd: 16 products per ymm instruction (8 lanes x 2). The
      // results go to 12 registers, so no chain waits on another.
      macsPerInstruction = 16;
      asm volatile("mov %0, %%rcx\n"
                   "1:\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm0\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm1\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm2\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm3\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm4\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm5\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm6\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm7\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm8\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm9\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm10\n"
                   "vpmaddwd %%ymm14, %%ymm15, %%ymm11\n"
                   "dec %%rcx\n"
                   "jnz 1b\n"
                   "vzeroupper\n"
                   :
                   : "r"(iterations)
                   : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
                     "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "cc");
    }
  }
  state.counters["MAC/s"] =
      benchmark::Counter(double(iterations) * 12 * macsPerInstruction,
                         benchmark::Counter::kIsIterationInvariantRate);
}

} // namespace

int main(int argc, char **argv) {
  // Compiled code allocates its packed buffers on every call: keep freed
  // memory in the process, as qat-run and qat-train do, instead of
  // mapping and faulting it in again each time.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  std::string isa = QAT_INT8_ISA;
  benchmark::RegisterBenchmark(("peak/" + isa).c_str(), instructionPeak)
      ->Unit(benchmark::kMillisecond);
  for (const Shape &shape : kShapes) {
    std::string name = shape.name;
    benchmark::RegisterBenchmark(("qat-mlir int8 " + isa + "/" + name).c_str(),
                                 qatMlirInt8, shape, shape.int8, kInt8Tiles,
                                 false)
        ->Unit(benchmark::kMillisecond);
    if (shape.proven)
      benchmark::RegisterBenchmark(
          ("qat-mlir int8 " + isa + " proven/" + name).c_str(), qatMlirInt8,
          shape, shape.proven, kProvenTiles, true)
          ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("qat-mlir f32/" + name).c_str(), qatMlirFloat,
                                 shape)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("oneDNN u8s8s32/" + name).c_str(), oneDnnInt8,
                                 shape)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
