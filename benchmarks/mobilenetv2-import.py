"""Import time and fp32 inference of MobileNetV2 against PyTorch 1.13.

    PYTHONPATH=python /usr/bin/python3 benchmarks/mobilenetv2-import.py

Prints the median qat-import wall time (5 runs), qat-run's compile time and
median inference time (10 calls, 1 thread), and PyTorch eager's median
inference time with 1 and 2 threads on the same model and input.
"""

import os
import subprocess
import tempfile
import time

import numpy as np
import torch

from qat_mlir import find_tool, models


def median(values):
    return sorted(values)[len(values) // 2]


def main():
    torch.manual_seed(0)
    model = models.MobileNetV2().eval()
    x = torch.randn(1, 3, 224, 224)
    with tempfile.TemporaryDirectory() as tmp:
        archive, mlir, array = (os.path.join(tmp, n) for n in ("m.pt", "m.mlir", "x.npy"))
        torch.jit.trace(model, x).save(archive)
        np.save(array, x.numpy())
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([find_tool("qat-import"), archive, "-o", mlir,
                            "--input-shape", "1x3x224x224"], check=True)
            times.append(time.perf_counter() - start)
        print(f"qat-import: {median(times):.2f} s")
        done = subprocess.run([find_tool("qat-run"), mlir, "--entry", "predict",
                               "--input", array, "--repeat", "10"],
                              capture_output=True, text=True, check=True)
        print(done.stderr.strip())
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.no_grad():
            model(x)
            times = []
            for _ in range(10):
                start = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - start)
        print(f"PyTorch eager, {threads} thread(s): {1000 * median(times):.1f} ms")


if __name__ == "__main__":
    main()
