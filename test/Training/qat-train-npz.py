# qat-train on a data set other than Fashion-MNIST, from an .npz: 3 x 16 x 16
# colour images of 4 classes (generated here, deterministic: a bright
# square in the quadrant of its class, tinted by a class colour, on noise),
# a CNN with 3 input channels and 4 classes, QAT from scratch with
# StatAssist (1 FP warm-up epoch) and GradBoost, trained target-exact.
#
# - The data's normalization is the training images' own mean and
#   standard deviation; qat-train prints it and records it in the module,
#   and qat-compile deploys it without being told.
# - The int8 program's outputs equal the trained model's (qat-compile
#   --keep-float) on all test images, and so do those of the classifier
#   program (--emit=exe) reading the test set as .npy.
# - Float32 images (N x H x W for one channel) train the same way.
# - Data that disagrees with the model, or is malformed, fails with a
#   message naming the array and the problem, and writes nothing.
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: normalization from the training images: mean [[MEAN:[0-9.]+]], std [[STD:[0-9.]+]]
# CHECK: epoch 3/3: {{.*}}test accuracy [[ACC:[0-9.]+]]%
# CHECK: numpy: mean [[MEAN]], std [[STD]]
# CHECK: recorded in the module: mean [[MEAN]], std [[STD]]; in the header: the same
# CHECK: test accuracy [[ACC]]% (at least 85%)
# CHECK: int8 program vs trained model: 400 images, outputs identical
# CHECK: classifier program on test_images.npy: 400 images, {{[0-9]+}} correct, accuracy [[ACC]]%; logits identical to the int8 program's
# CHECK: classifier program on test_images_f32.npy: 400 images, {{[0-9]+}} correct, accuracy [[ACC]]%; logits identical to the int8 program's
# CHECK: float32 N x H x W images: trained, test accuracy {{[0-9.]+}}% (at least 85%)
# CHECK: wrong channels: {{.*}}error: {{.*}}set.npz: the train images are 3x16x16 (channels x height x width) but the model takes 1x16x16
# CHECK: missing array: {{.*}}error: {{.*}}missing.npz: has no array 'test_labels' (entry 'test_labels.npy'); a data set holds train_images, train_labels, test_images and test_labels
# CHECK: int16 images: {{.*}}error: {{.*}}int16.npz: train_images must be uint8 or float32, not <i2
# CHECK: label out of range: {{.*}}error: {{.*}}labels.npz: train label 7 is 4 but the model has 4 classes
# CHECK: negative label: {{.*}}error: {{.*}}negative.npz: train_labels[3] is -1, not a class
# CHECK: NaN pixel: {{.*}}error: {{.*}}nan.npz: train_images holds a non-finite value at flat index 5
# CHECK: not a zip: {{.*}}error: {{.*}}garbage.npz: cannot read the .npz archive (Not a zip archive)
# CHECK: no output file after any error

import os
import re
import subprocess
import sys

import numpy as np
import torch
from torch import nn

import qat_mlir

out = sys.argv[1]
BATCH = 50
COLOURS = np.array([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0], [1.0, 1.0, 0.2]])


def make_images(count, seed):
    """Noise plus a tinted 6x6 square in the class's quadrant (with a random
    offset inside it)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, count)
    images = rng.uniform(0, 150, (count, 3, 16, 16))
    for i, label in enumerate(labels):
        top, left = 8 * (label // 2) + rng.integers(0, 3), 8 * (label % 2) + rng.integers(0, 3)
        images[i, :, top:top + 6, left:left + 6] += 30 * COLOURS[label][:, None, None]
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


def make_model(channels):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 4)).train()
    path = f"{out}/cnn{channels}.pt"
    torch.jit.trace(model, torch.randn(BATCH, channels, 16, 16), check_trace=False).save(path)
    return path


def run(tool, *args, check=True):
    done = subprocess.run([qat_mlir.find_tool(tool), *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{done.stderr}")
    return done


train_images, train_labels = make_images(2000, 1)
test_images, test_labels = make_images(400, 2)
np.savez(f"{out}/set.npz", train_images=train_images, train_labels=train_labels,
         test_images=test_images, test_labels=test_labels)

training = ["--batch-size", str(BATCH), "--qconfig", "per-tensor", "--fp-warmup-epochs", "1", "--epochs", "2",
            "--grad-boost", "--target-exact", "--lr", "0.05", "--seed", "1", "--no-progress"]
done = run("qat-train", make_model(3), "--data", f"{out}/set.npz", *training,
           "-o", f"{out}/trained.mlir")
print(done.stdout, end="")
accuracy = float(re.findall(r"test accuracy ([0-9.]+)%", done.stdout)[-1])

scaled = train_images.astype(np.float64) / 255
mean, std = np.float32(scaled.mean()), np.float32(scaled.std())
print(f"numpy: mean {mean:.6g}, std {std:.6g}")
text = open(f"{out}/trained.mlir").read()
recorded = [float(re.search(rf"qat.input_{k} = ([-0-9.e+]+) : f32", text).group(1))
            for k in ("mean", "std")]
header = run("qat-compile", f"{out}/trained.mlir", "--emit=header", "-o", f"{out}/model.h")
macros = [float(re.search(rf"MODEL_INPUT_{k} ([-0-9.e+]+)f", open(f"{out}/model.h").read())
                .group(1)) for k in ("MEAN", "STD")]
same = "the same" if np.allclose(macros, recorded, rtol=1e-6) else f"DIFFERENT {macros}"
print(f"recorded in the module: mean {recorded[0]:.6g}, std {recorded[1]:.6g}; "
      f"in the header: {same}")
print(f"test accuracy {accuracy:.2f}% ({'at least' if accuracy >= 85 else 'BELOW'} 85%)")

# The int8 program and the trained model on the normalized test images.
normalized = ((test_images.astype(np.float32) / 255 - np.float32(recorded[0]))
              / np.float32(recorded[1])).astype(np.float32)
outputs = {}
for kind, extra in (("int8", []), ("reference", ["--keep-float"])):
    run("qat-compile", f"{out}/trained.mlir", "--emit=mlir", *extra, "-o", f"{out}/{kind}.mlir")
    outputs[kind] = np.concatenate([
        qat_mlir.run_file(f"{out}/{kind}.mlir", "model", [normalized[i:i + BATCH]])[0]
        for i in range(0, len(normalized), BATCH)])
identical = np.array_equal(outputs["int8"], outputs["reference"])
print(f"int8 program vs trained model: {len(normalized)} images, outputs "
      f"{'identical' if identical else 'DIFFERENT'}")

# The classifier program reads .npy images (uint8, and float32 x / 255)
# and labels, normalizing them as training did.
run("qat-compile", f"{out}/trained.mlir", "--emit=exe", "-o", f"{out}/classify")
np.save(f"{out}/test_images.npy", test_images)
np.save(f"{out}/test_images_f32.npy", test_images.astype(np.float32) / np.float32(255))
np.save(f"{out}/test_labels.npy", test_labels)
for images in ("test_images.npy", "test_images_f32.npy"):
    done = subprocess.run([f"{out}/classify", f"{out}/{images}", f"{out}/test_labels.npy",
                           "--logits", f"{out}/logits.f32"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    logits = np.fromfile(f"{out}/logits.f32", dtype=np.float32).reshape(-1, 4)
    same = np.array_equal(logits, outputs["int8"])
    print(f"classifier program on {images}: {done.stdout.splitlines()[0].split(': ', 1)[1]}; "
          f"logits {'identical to' if same else 'DIFFERENT from'} the int8 program's")

# One channel as float32 N x H x W in [0, 1].
grey = lambda images: (images.mean(axis=1) / 255).astype(np.float32)
np.savez(f"{out}/float.npz", train_images=grey(train_images), train_labels=train_labels,
         test_images=grey(test_images), test_labels=test_labels)
done = run("qat-train", make_model(1), "--data", f"{out}/float.npz", *training)
accuracy = float(re.findall(r"test accuracy ([0-9.]+)%", done.stdout)[-1])
print(f"float32 N x H x W images: trained, test accuracy {accuracy:.2f}% "
      f"({'at least' if accuracy >= 85 else 'BELOW'} 85%)")

# Bad data.
def bad(label, name, **arrays):
    data = dict(train_images=train_images, train_labels=train_labels,
                test_images=test_images, test_labels=test_labels)
    data.update(arrays)
    data = {k: v for k, v in data.items() if v is not None}
    np.savez(f"{out}/{name}", **data)
    fails(label, make_model(3), f"{out}/{name}")


def fails(label, model, data):
    done = run("qat-train", model, "--data", data, *training, "-o", f"{out}/bad.mlir",
               check=False)
    assert not os.path.exists(f"{out}/bad.mlir"), label
    assert done.returncode == 1, (label, done.returncode, done.stderr)
    print(f"{label}: {done.stderr.strip().splitlines()[0]}")


# A one-channel model imported for its own shape, trained on colour images.
run("qat-import", make_model(1), "--mode", "train", "--input-shape", f"{BATCH}x1x16x16",
    "-o", f"{out}/cnn1.mlir")
fails("wrong channels", f"{out}/cnn1.mlir", f"{out}/set.npz")
bad("missing array", "missing.npz", test_labels=None)
bad("int16 images", "int16.npz", train_images=train_images.astype(np.int16))
labels = train_labels.copy()
labels[7] = 4
bad("label out of range", "labels.npz", train_labels=labels)
labels[7], labels[3] = 0, -1
bad("negative label", "negative.npz", train_labels=labels)
floats = train_images.astype(np.float32)
floats.reshape(-1)[5] = np.nan
bad("NaN pixel", "nan.npz", train_images=floats)
open(f"{out}/garbage.npz", "wb").write(b"not a zip archive at all")
fails("not a zip", make_model(3), f"{out}/garbage.npz")
assert not os.path.exists(f"{out}/bad.mlir")
print("no output file after any error")
