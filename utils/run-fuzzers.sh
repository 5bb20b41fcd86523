#!/usr/bin/env bash
# Runs each libFuzzer fuzzer of a fuzzer build (utils/run-sanitizer-tests.sh
# makes one) for a bounded time, from seed corpora made from the test suite
# (utils/make-fuzz-seeds.py). A crash, sanitizer report, timeout or
# out-of-memory fails the run and leaves the input in
# BUILD/fuzz/artifacts/; reproduce it with `BUILD/bin/qat-X-fuzzer FILE`.
#
#   utils/run-fuzzers.sh [BUILD [SECONDS [FUZZER...]]]
#
# BUILD defaults to build-sanitize/, SECONDS (per fuzzer) to 30, FUZZER to
# all of mlir npy idx archive. What a run finds beyond the seeds is kept in
# BUILD/fuzz/corpus/ and reused by the next run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-sanitize}
seconds=${2:-30}
shift $(($# > 2 ? 2 : $#))
fuzzers=("$@")
[ ${#fuzzers[@]} -eq 0 ] && fuzzers=(mlir npy idx archive)

fuzz=$build/fuzz
/usr/bin/python3 "$root/utils/make-fuzz-seeds.py" "$fuzz/seeds" >/dev/null
mkdir -p "$fuzz/artifacts"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
for name in "${fuzzers[@]}"; do
  mkdir -p "$fuzz/corpus/$name"
  log=$fuzz/$name.log
  # Inputs up to 16 KiB (the MLIR seeds' size); 60 s for one input (the
  # largest lowerings take ~10 s under ASan on a busy machine).
  if "$build/bin/qat-$name-fuzzer" -max_total_time="$seconds" -timeout=60 \
      -rss_limit_mb=4096 -max_len=16384 -print_final_stats=1 \
      -artifact_prefix="$fuzz/artifacts/$name-" \
      "$fuzz/corpus/$name" "$fuzz/seeds/$name" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
      grep -o '[0-9]*$' || echo '?')
    echo "qat-$name-fuzzer: clean for ${seconds} s, $runs inputs"
  else
    status=1
    echo "qat-$name-fuzzer: FAILED (log: $log)"
    grep -E 'ERROR|SUMMARY|Test unit written|error:' "$log" | head -5 || true
  fi
done
exit $status
