//===- int8_gemm_benchmark.cpp - int8 GEMM against the peak and oneDNN ----===//
//
// Part of qat-mlir. One core, side by side in one run (Google Benchmark):
//   - the machine's vpdpbusd (zmm) throughput: 12 independent chains;
//   - qat-mlir's int8 GEMM, 1024^3 (benchmarks/int8-gemm/gemm.mlir through
//     --qat-lower-to-llvm=int8-isa=avx512vnni): A packed per call, B
//     packed beforehand;
//   - oneDNN's matmul primitive (u8 x s8 -> s32), same shape, B reordered
//     beforehand into the primitive's preferred layout.
// Each reports MACs per second as "MAC/s"; the peak ratio is in
// docs/performance.md.
//
//===----------------------------------------------------------------------===//

#include <benchmark/benchmark.h>
#include <dnnl.hpp>

#include <cstdint>
#include <cstring>
#include <malloc.h>
#include <random>
#include <vector>

namespace {

constexpr int64_t kSize = 1024;

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

} // namespace

extern "C" void _mlir_ciface_gemm(MemRef<2, int8_t> *a, MemRef<4, int8_t> *bp,
                                  MemRef<2, int32_t> *c);

static void BM_VpdpbusdPeak(benchmark::State &state) {
  const int64_t iterations = 1 << 20;
  for (auto _ : state) {
    asm volatile("vpxord %%zmm0, %%zmm0, %%zmm0\n"
                 "mov %0, %%rcx\n"
                 "1:\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm0\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm1\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm2\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm3\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm4\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm5\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm6\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm7\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm8\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm9\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm10\n"
                 "vpdpbusd %%zmm14, %%zmm15, %%zmm11\n"
                 "dec %%rcx\n"
                 "jnz 1b\n"
                 :
                 : "r"(iterations)
                 : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
                   "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "cc");
  }
  // 12 instructions x 64 MACs per iteration.
  state.counters["MAC/s"] =
      benchmark::Counter(double(iterations) * 12 * 64,
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_VpdpbusdPeak)->Unit(benchmark::kMillisecond);

static void BM_QatMlirGemm(benchmark::State &state) {
  std::mt19937 rng(0);
  std::vector<int8_t> a(kSize * kSize), b(kSize * kSize), bp(kSize * kSize);
  for (auto &v : a)
    v = int8_t(rng());
  for (auto &v : b)
    v = int8_t(rng());
  // B (K x N) into 16 x 4 tiles: bp[n1][k1][n0][k0] = b[k1*4+k0][n1*16+n0].
  for (int64_t n1 = 0; n1 < kSize / 16; ++n1)
    for (int64_t k1 = 0; k1 < kSize / 4; ++k1)
      for (int64_t n0 = 0; n0 < 16; ++n0)
        for (int64_t k0 = 0; k0 < 4; ++k0)
          bp[((n1 * (kSize / 4) + k1) * 16 + n0) * 4 + k0] =
              b[(k1 * 4 + k0) * kSize + n1 * 16 + n0];
  std::vector<int32_t> c(kSize * kSize);
  auto ma = view<2>(a.data(), {kSize, kSize});
  auto mb = view<4>(bp.data(), {kSize / 16, kSize / 4, 16, 4});
  auto mc = view<2>(c.data(), {kSize, kSize});
  for (auto _ : state) {
    _mlir_ciface_gemm(&ma, &mb, &mc);
    benchmark::DoNotOptimize(c.data());
  }
  // Spot-check a few elements against a scalar product.
  for (int64_t i : {0L, 517L, kSize - 1})
    for (int64_t j : {0L, 333L, kSize - 1}) {
      int32_t want = 0;
      for (int64_t k = 0; k < kSize; ++k)
        want += int32_t(a[i * kSize + k]) * int32_t(b[k * kSize + j]);
      if (c[i * kSize + j] != want)
        state.SkipWithError("qat-mlir GEMM result differs from the reference");
    }
  state.counters["MAC/s"] =
      benchmark::Counter(double(kSize) * kSize * kSize,
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_QatMlirGemm)->Unit(benchmark::kMillisecond);

static void BM_OneDnnGemm(benchmark::State &state) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::dims dims = {kSize, kSize};
  memory::desc aDesc(dims, memory::data_type::u8, memory::format_tag::ab);
  memory::desc bAny(dims, memory::data_type::s8, memory::format_tag::any);
  memory::desc bDesc(dims, memory::data_type::s8, memory::format_tag::ab);
  memory::desc cDesc(dims, memory::data_type::s32, memory::format_tag::ab);
  matmul::primitive_desc pd(matmul::desc(aDesc, bAny, cDesc), eng);
  memory a(aDesc, eng), bPlain(bDesc, eng), b(pd.weights_desc(), eng),
      c(cDesc, eng);
  std::mt19937 rng(0);
  for (int64_t i = 0; i < kSize * kSize; ++i) {
    static_cast<uint8_t *>(a.get_data_handle())[i] = uint8_t(rng());
    static_cast<int8_t *>(bPlain.get_data_handle())[i] = int8_t(rng());
  }
  reorder(bPlain, b).execute(s, bPlain, b);
  matmul prim(pd);
  for (auto _ : state) {
    prim.execute(s,
                 {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    s.wait();
  }
  state.counters["MAC/s"] =
      benchmark::Counter(double(kSize) * kSize * kSize,
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_OneDnnGemm)->Unit(benchmark::kMillisecond);

int main(int argc, char **argv) {
  // Compiled code allocates its packed buffers on every call: keep freed
  // memory in the process, as qat-run and qat-train do, instead of
  // mapping and faulting it in again each time.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
