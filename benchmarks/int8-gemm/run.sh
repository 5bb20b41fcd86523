#!/usr/bin/env bash
# The int8 GEMM benchmark on this CPU's int8 microkernel (the x86 `host`
# target's: avx512vnni, avxvnni or avx2), one core, in one run: the
# instruction's peak, qat-mlir's int8 and f32 GEMMs and oneDNN's u8 x s8 ->
# s32 matmul on the shapes of generate.py; then the ratios as a table.
#   benchmarks/int8-gemm/run.sh [--json FILE] [google-benchmark options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$root/utils/setup.sh" >/dev/null
bin=${QAT_BUILD_DIR:-$root/build}/bin
json=
if [ "${1:-}" = "--json" ]; then json=$2; shift 2; fi
host=$("$bin/qat-compile" --print-targets | awk '$1 == "host" { print $2 }')
case "$host" in
  x86_64-avx512vnni) isa=avx512vnni; vectors="vector-bits=512 vector-registers=32"
    march=(-march=x86-64-v4 -mavx512vnni) ;;
  x86_64-avxvnni) isa=avxvnni; vectors="vector-bits=256 vector-registers=16"
    march=(-march=x86-64-v3 -mavxvnni) ;;
  x86_64-avx2) isa=avx2; vectors="vector-bits=256 vector-registers=16"
    march=(-march=x86-64-v3) ;;
  *) echo "run.sh: this CPU's target $host has no int8 microkernel" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$here/generate.py" "$tmp" "$isa"
"$bin/qat-opt" "$tmp/gemm.mlir" --qat-lower-to-llvm="int8-isa=$isa $vectors" |
  mlir-translate-22 --mlir-to-llvmir -o "$tmp/gemm.ll"
clang-22 -c -O3 "${march[@]}" -Wno-override-module "$tmp/gemm.ll" -o "$tmp/gemm.o"
clang++-22 -O2 -I"$tmp" "$here/int8_gemm_benchmark.cpp" "$tmp/gemm.o" \
  -lbenchmark -ldnnl -lpthread -o "$tmp/int8-gemm-benchmark"
# One core: oneDNN's OpenMP runtime and the process pinned to CPU 1.
OMP_NUM_THREADS=1 taskset -c 1 "$tmp/int8-gemm-benchmark" \
  --benchmark_out="$tmp/results.json" --benchmark_out_format=json "$@"
[ -z "$json" ] || cp "$tmp/results.json" "$json"
/usr/bin/python3 "$here/table.py" "$tmp/results.json" "$isa" "$host"
