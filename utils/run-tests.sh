#!/usr/bin/env bash
# The whole test suite: set up and build qat-mlir, then run check-qat (lit:
# FileCheck tests, verifier diagnostics, and execution tests against PyTorch)
# and print a one-line summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${QAT_BUILD_DIR:-$root/build}
"$root/utils/setup.sh"
results=$build/test-results.xml
rm -f "$results"
status=0
# A test that hangs (a crash whose handler deadlocks, say) fails after 20
# minutes instead of holding CI; the slowest test takes ~90 s. (lit's
# timeout needs python3-psutil.)
LIT_OPTS="${LIT_OPTS:-} --timeout=1200 --xunit-xml-output=$results" \
  cmake --build "$build" --target check-qat || status=$?
/usr/bin/python3 "$root/utils/summarize-tests.py" "$results" || status=1
exit $status
