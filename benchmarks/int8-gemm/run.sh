#!/usr/bin/env bash
# The int8 GEMM benchmark, one core, in one run: the machine's vpdpbusd
# peak, qat-mlir's 1024^3 u8 x s8 -> s32 GEMM (gemm.mlir through the
# AVX512-VNNI microkernel of --qat-lower-mmt4d) and oneDNN's matmul.
#   benchmarks/int8-gemm/run.sh [google-benchmark options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$root/utils/setup.sh" >/dev/null
bin=${QAT_BUILD_DIR:-$root/build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/qat-opt" "$here/gemm.mlir" --qat-lower-to-llvm="int8-isa=avx512vnni" |
  mlir-translate-22 --mlir-to-llvmir -o "$tmp/gemm.ll"
clang-22 -c -O3 -march=x86-64-v4 -mavx512vnni -Wno-override-module \
  "$tmp/gemm.ll" -o "$tmp/gemm.o"
clang++-22 -O2 -march=x86-64-v4 -mavx512vnni "$here/int8_gemm_benchmark.cpp" \
  "$tmp/gemm.o" -lbenchmark -ldnnl -lpthread -o "$tmp/int8-gemm-benchmark"
# One core: oneDNN's OpenMP runtime and the process pinned to CPU 1.
OMP_NUM_THREADS=1 taskset -c 1 "$tmp/int8-gemm-benchmark" "$@"
