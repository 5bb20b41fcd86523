#!/usr/bin/env bash
# The test suite with the project's code built under AddressSanitizer and
# UndefinedBehaviorSanitizer (any report fails the run), in build-sanitize/.
# LLVM, MLIR and LibTorch are Debian's uninstrumented libraries; leak checks
# are off because they own process-lifetime singletons.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${QAT_SANITIZE_BUILD_DIR:-$root/build-sanitize}
"$root/utils/setup.sh"
if ! dpkg-query -W -f='${Status}' libclang-rt-22-dev 2>/dev/null |
    grep -q "install ok installed"; then
  sudo=$([ "$(id -u)" -ne 0 ] && echo sudo || true)
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
    --no-install-recommends libclang-rt-22-dev
fi
flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DPython3_EXECUTABLE=/usr/bin/python3 \
    "-DCMAKE_CXX_FLAGS=$flags" \
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" \
    "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" \
    $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
export ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cmake --build "$build" --target check-qat
