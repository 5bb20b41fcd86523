"""qat-mlir's end-to-end demo on the embedded Fashion-MNIST data.

    python3 -m qat_mlir.demo

1. Imports the small CNN (PyTorch, seeded random initialization) from
   TorchScript with qat-import, compiles it, classifies the 10,000 test
   images, and checks the logits and predictions against PyTorch and the
   exported state_dict against the model's.
2. Compiles demo/calibrate.mlir (observers, quantization parameters and
   fake quantization from the qat dialect, lowered to LLVM and JIT-compiled
   by qat-run), calibrates uint8 and uint4 activation quantization on 4,096
   training images, fake-quantizes the 10,000 test images, and checks every
   number against PyTorch 1.13's observers and fake-quantization kernels.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from qat_mlir import datasets, find_tool, import_torchscript, models, run_file

CALIBRATION_BATCHES, BATCH = 16, 256


def sqnr_db(reference, quantized):
    noise = np.sum((reference.astype(np.float64) - quantized) ** 2)
    return 10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / noise)


def pytorch_reference(calib, test):
    """The same calibration with PyTorch's observer and kernels."""
    import torch
    from torch.ao.quantization.observer import MovingAverageMinMaxObserver

    observer = MovingAverageMinMaxObserver(averaging_constant=0.01,
                                           dtype=torch.quint8)
    for batch in calib:
        observer(torch.from_numpy(batch))
    results = [observer.min_val.numpy(), observer.max_val.numpy()]
    x = torch.from_numpy(test)
    for qmax in (255, 15):
        grid = MovingAverageMinMaxObserver(dtype=torch.quint8, quant_min=0,
                                           quant_max=qmax)
        scale, zp = grid._calculate_qparams(observer.min_val, observer.max_val)
        q, mask = torch.ops.aten.fake_quantize_per_tensor_affine_cachemask(
            x, float(scale), int(zp), 0, qmax)
        results += [scale.numpy().reshape(()),
                    zp.numpy().astype(np.int32).reshape(()), q.numpy(),
                    mask.numpy()]
    return results


def import_and_classify(test):
    """Part 1: the small CNN through qat-import, compiled, on the test set."""
    import torch

    torch.manual_seed(0)
    model = models.SmallCNN().eval()
    images = test.reshape(-1, 1, 28, 28)
    with tempfile.TemporaryDirectory(prefix="qat-demo-") as tmp:
        archive = os.path.join(tmp, "small_cnn.pt")
        with torch.no_grad():
            torch.jit.trace(model, torch.from_numpy(images[:2])).save(archive)
            expected = model(torch.from_numpy(images)).numpy()
        start = time.perf_counter()
        mlir = import_torchscript(archive, os.path.join(tmp, "small_cnn.mlir"),
                                  [images.shape])
        imported = time.perf_counter() - start
        start = time.perf_counter()
        (logits,) = run_file(mlir, "predict", [images])
        ran = time.perf_counter() - start
        state = os.path.join(tmp, "state_dict.pt")
        subprocess.run([find_tool("qat-export"), mlir, "-o", state], check=True)
        exported = torch.load(state)
    same_state = all(torch.equal(exported[name], value)
                     for name, value in model.state_dict().items())
    agree = int((logits.argmax(1) == expected.argmax(1)).sum())
    error = float(np.abs(logits - expected).max() / np.abs(expected).max())
    print(f"small CNN (random init): qat-import {imported:.2f} s, compile and "
          f"classify {images.shape[0]} images {ran:.2f} s")
    print(f"  predictions equal to PyTorch's: {agree} of {images.shape[0]}; "
          f"max relative logit error {error:.1e}")
    print(f"  state_dict exported from MLIR equals the model's: {same_state}")
    return agree == images.shape[0] and error <= 1e-4 and same_state


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=datasets.FASHION_MNIST_DIR,
                        help="directory with the Fashion-MNIST IDX files")
    args = parser.parse_args()

    train_images, _ = datasets.fashion_mnist("train", args.data)
    test_images, _ = datasets.fashion_mnist("test", args.data)
    calib = datasets.normalize(train_images[:CALIBRATION_BATCHES * BATCH]).reshape(
        CALIBRATION_BATCHES, BATCH, 28, 28)
    test = datasets.normalize(test_images)
    print(f"Fashion-MNIST: {calib.shape[0]} calibration batches of {BATCH} "
          f"training images, {test.shape[0]} test images", flush=True)

    imported_ok = import_and_classify(test)

    module = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibrate.mlir")
    start = time.perf_counter()
    outputs = run_file(module, "calibrate", [calib, test])
    elapsed = time.perf_counter() - start
    print(f"qat-run: lowered, JIT-compiled and ran calibrate.mlir in {elapsed:.2f} s")

    minimum, maximum = outputs[0], outputs[1]
    print(f"observed range (moving average, c = 0.01): [{minimum:.6f}, {maximum:.6f}]")
    for name, (scale, zp, quantized, mask) in (("uint8 [0, 255]", outputs[2:6]),
                                              ("uint4 [0, 15] ", outputs[6:10])):
        print(f"{name}: scale {scale:.8f}, zero-point {int(zp):3d}, "
              f"SQNR {sqnr_db(test, quantized):5.2f} dB, "
              f"{100 * (1 - mask.mean()):.3f}% of test pixels clipped")

    reference = pytorch_reference(calib, test)
    names = ["min", "max", "uint8 scale", "uint8 zero-point", "uint8 fake-quant",
             "uint8 mask", "uint4 scale", "uint4 zero-point", "uint4 fake-quant",
             "uint4 mask"]
    mismatches = 0
    total = 0
    for name, ours, theirs in zip(names, outputs, reference):
        theirs = np.asarray(theirs).astype(ours.dtype)
        if ours.dtype.kind == "f":
            same = ours.view(np.uint32) == theirs.view(np.uint32)
        else:
            same = ours == theirs
        total += same.size
        if not same.all():
            mismatches += int((~same).sum())
            print(f"  mismatch in {name}: {int((~same).sum())} elements")
    print(f"agreement with PyTorch 1.13: {total - mismatches:,} of {total:,} "
          f"values bit-identical")
    return 0 if mismatches == 0 and imported_ok else 1


if __name__ == "__main__":
    sys.exit(main())
