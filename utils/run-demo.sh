#!/usr/bin/env bash
# The main job: set up and build qat-mlir, then run the end-to-end demo on
# the embedded Fashion-MNIST data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/utils/setup.sh"
export QAT_MLIR_TOOLS_DIR=${QAT_BUILD_DIR:-$root/build}/bin
PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" \
  exec /usr/bin/python3 -m qat_mlir.demo "$@"
