#!/usr/bin/env bash
# Installs what qat-mlir needs on Debian 12 (when missing), then configures
# and builds it in build/. Safe to run again: each step is skipped when done.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${QAT_BUILD_DIR:-$root/build}
# ccache keys on paths relative to the checkout, so a fresh clone (CI's)
# reuses the objects of an earlier build of the same sources.
export CCACHE_BASEDIR=$root

packages=(
  cmake ninja-build g++ git ccache
  clang-22 lld-22 llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  python3 python3-numpy python3-psutil python3-torch python3-torchvision libtorch-dev zlib1g-dev libzip-dev pkg-config
  python3-dev pybind11-dev python3-pytest python3-tqdm python3-matplotlib
  libomp-22-dev
  # ASan, UBSan and libFuzzer runtimes (utils/run-sanitizer-tests.sh)
  libclang-rt-22-dev
  dataset-fashion-mnist
  qemu-user-static libc6-dev-arm64-cross libgcc-12-dev-arm64-cross
  libdnnl-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "qat-mlir: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
  else
    sudo=
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$build/build.ninja" ]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DPython3_EXECUTABLE=/usr/bin/python3 \
    "${launcher[@]}"
fi
cmake --build "$build"
