#!/usr/bin/env bash
# The project's C++ under AddressSanitizer and UndefinedBehaviorSanitizer, in
# build-sanitize/: the fast part of the test suite (every test except the
# long training and model runs, listed in QAT_SANITIZE_SKIP) and then each
# libFuzzer fuzzer for a bounded time (utils/run-fuzzers.sh). Any sanitizer
# report fails the run.
#
# The same build serves both: the project's code is compiled with
# -fsanitize=fuzzer-no-link (coverage for the fuzzers), at -O1 and with
# assertions on. LLVM, MLIR and LibTorch are Debian's uninstrumented
# libraries; leak checks are off because they own process-lifetime
# singletons.
#
#   utils/run-sanitizer-tests.sh            build, sanitized tests, fuzzers
#   utils/run-sanitizer-tests.sh --build    build only
#   QAT_FUZZ_SECONDS=60 ...                 seconds per fuzzer (default 30)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${QAT_SANITIZE_BUILD_DIR:-$root/build-sanitize}
# ccache keys on paths relative to the checkout, so a fresh clone (CI's)
# reuses the objects of an earlier build of the same sources.
export CCACHE_BASEDIR=$root
"$root/utils/setup.sh"

flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize=vptr"
flags+=" -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DLLVM_ENABLE_ASSERTIONS=ON -DQAT_ENABLE_FUZZERS=ON \
    -DQAT_ENABLE_PYTHON_EXTENSION=OFF -DQAT_ENABLE_MPI=OFF \
    "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_CXX_FLAGS_RELEASE=-O1" \
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" \
    "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" \
    $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake --build "$build"
[ "${1:-}" = --build ] && exit 0

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Tests that mostly time training runs, whole models, or Python's torch
# (they take minutes under ASan and exercise no C++ the others do not).
skip=${QAT_SANITIZE_SKIP:-'torchvision-zoo|qat-compile-mobilenet|models-vs-pytorch|qat-train-stat-assist|qat-compile-end-to-end|demo.test|gradients-vs-finite-differences|Training/qat-train.py|int8-vs-pytorch-convert|gradients-vs-pytorch|deployment-example|qat-prepare-vs-pytorch|compile-cache|uint7-fast-path|training-example'}
results=$build/test-results.xml
status=0
LIT_OPTS="${LIT_OPTS:-} --timeout=1200 --xunit-xml-output=$results" \
  LIT_FILTER_OUT="$skip" cmake --build "$build" --target check-qat || status=$?
/usr/bin/python3 "$root/utils/summarize-tests.py" "$results" || status=1
"$root/utils/run-fuzzers.sh" "$build" "${QAT_FUZZ_SECONDS:-30}" || status=1
exit $status
