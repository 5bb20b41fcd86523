"""The int8 GEMM benchmark's results (Google Benchmark JSON) as the table of
docs/performance.md: GMAC/s of each peer per shape and the ratios.

    table.py RESULTS.json ISA HOST_TARGET
"""

import json
import re
import sys

results, isa, host = sys.argv[1], sys.argv[2], sys.argv[3]
with open(results) as f:
    data = json.load(f)
rate = {}
for run in data["benchmarks"]:
    if run.get("error_occurred"):
        sys.exit(f"table.py: {run['name']}: {run.get('error_message')}")
    # With --benchmark_repetitions: the medians.
    if run.get("run_type") == "aggregate" and run.get("aggregate_name") != "median":
        continue
    rate[run.get("run_name", run["name"])] = run["MAC/s"] / 1e9
with open("/proc/cpuinfo") as f:
    model = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
print(f"int8 GEMMs, one core of {model} ({host}); GMAC/s, ratios side by side")
print(f"{isa} instruction peak: {rate[f'peak/{isa}']:.1f} GMAC/s")
print()
proven = any(name.startswith(f"qat-mlir int8 {isa} proven/") for name in rate)
extra = " | proven (vpmaddubsw) | proven / oneDNN" if proven else ""
print(f"| shape (M x K x N) | qat-mlir int8 ({isa}) | oneDNN u8s8s32 | qat-mlir f32 | int8 / oneDNN | int8 / f32 | int8 / peak{extra} |")
print("| --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if proven else ""))
shapes = [name.split("/", 1)[1] for name in rate if name.startswith("qat-mlir f32/")]
for shape in shapes:
    ours = rate[f"qat-mlir int8 {isa}/{shape}"]
    onednn = rate[f"oneDNN u8s8s32/{shape}"]
    f32 = rate[f"qat-mlir f32/{shape}"]
    peak = rate[f"peak/{isa}"]
    row = (f"| {shape} | {ours:.1f} | {onednn:.1f} | {f32:.1f} | {ours / onednn:.2f}x | "
           f"{ours / f32:.2f}x | {100 * ours / peak:.0f}% |")
    if proven:
        fast = rate[f"qat-mlir int8 {isa} proven/{shape}"]
        row += f" {fast:.1f} | {fast / onednn:.2f}x |"
    print(row)
