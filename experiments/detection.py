"""The object-detection experiment of docs/results.md, with one command:

    /usr/bin/python3 experiments/detection.py            # full (3 seeds)
    /usr/bin/python3 experiments/detection.py --quick    # minutes

Data: datasets.fashion_detection, scenes of 1 to 3 Fashion-MNIST items on a
64 x 64 canvas, each with its garment's box and class, made from the
packaged Fashion-MNIST (training scenes from its training images, test
scenes from its test images). Model: models.DetectionNet (a MobileNetV2
backbone to 1/8 and an SSDLite-style separable head; anchor-free, one cell
per 8 x 8 pixels) with models.DetectionLoss (sigmoid focal loss + smooth
L1) as the loss its forward returns (models.WithLoss), on the targets of
qat_mlir.detection.encode, trained from seeded random initialization with
QSGD's settings for detection (SGD, momentum 0.9, Nesterov, weight decay
5e-4 on the convolution weights but the depthwise ones; a linear warm-up
over the first epoch and a cosine decay), batch 32. The peak learning rate is 5e-2, not the method's 1e-3
for detection (which trains SSDLite for hundreds of epochs): over a few
epochs 1e-3 leaves every row far lower (measured, docs/results.md).

Rows (every row trains the same number of epochs in all):
  fp32                      no fake quantization
  QAT from scratch          --qat-prepare (per-tensor int8 weights, uint8
                            activations), QAT in every epoch
  QAT + SA + GradBoost      the first 2 epochs are StatAssist's FP warm-up
                            (the method's length for detection), then QAT
                            with GradBoost (reference variant)
  PyTorch eager fp32 (peer) the same model and loss, torch.optim.SGD with
                            the same schedule and batch order
Columns: test mAP at IoU 0.5 (qat_mlir.detection: decode, per-class NMS,
VOC's all-point average precision; fake quantization for the QAT rows),
mean and standard deviation over seeds, training images/s; for the QAT
rows whether the int8 program (qat_mlir.compile, host target) gives the
trained model's outputs exactly on every test scene, and its mAP.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import qat_mlir  # noqa: E402
from qat_mlir import datasets, detection, models  # noqa: E402
import eager  # noqa: E402

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=4, help="epochs in all, per row")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--train", type=int, default=8192, help="training scenes")
parser.add_argument("--test", type=int, default=1024, help="test scenes")
parser.add_argument("--lr", type=float, default=5e-2)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--rows", nargs="+", default=["fp32", "qat", "qat_sa_gb", "pytorch"])
parser.add_argument("--quick", action="store_true",
                    help="1 seed, 3 epochs, 4096 training and 512 test scenes")
args = parser.parse_args()
if args.quick:
    args.seeds, args.epochs, args.train, args.test = [0], 3, 4096, 512
torch.set_num_threads(args.threads)

BATCH, SIZE, CLASSES, STRIDE = 32, 64, 10, 8
GRID = SIZE // STRIDE
train_images, train_boxes, train_labels = datasets.fashion_detection("train", args.train, seed=1)
test_images, test_boxes, test_labels = datasets.fashion_detection("test", args.test, seed=2)
train_targets = detection.encode(train_boxes, train_labels, CLASSES, GRID, STRIDE)
# The scenes' own normalization, as Trainer.fit computes it for uint8 data.
MEAN = float(train_images.mean() / 255.0)
STD = float((train_images / 255.0).std())


def normalized(images):
    x = images.astype(np.float32) / np.float32(255)
    return (x - np.float32(MEAN)) / np.float32(STD)


def fresh(seed):
    torch.manual_seed(seed)
    return models.WithLoss(models.DetectionNet(CLASSES), models.DetectionLoss(CLASSES))


def options(row, seed):
    common = dict(lr=args.lr, seed=seed, threads=args.threads, weight_decay_conv=5e-4,
                  weight_decay_depthwise=0.0, weight_decay_other=0.0,
                  input_mean=MEAN, input_std=STD)
    if row == "fp32":
        return dict(common, qconfig="", stat_assist_epochs=0, grad_boost=False,
                    target_exact=False), args.epochs
    if row == "qat":
        return dict(common, qconfig="per-tensor", stat_assist_epochs=0,
                    grad_boost=False), args.epochs
    return dict(common, qconfig="per-tensor", stat_assist_epochs=2, grad_boost=True), \
        args.epochs - 2


def mean_ap(outputs):
    return 100.0 * detection.mean_average_precision(
        detection.decode(outputs, CLASSES, STRIDE), test_boxes, test_labels, CLASSES)[0]


def run_ours(row, seed):
    example = (torch.zeros(BATCH, 1, SIZE, SIZE), torch.zeros(BATCH, CLASSES + 4, GRID, GRID))
    module = qat_mlir.import_module(fresh(seed), example)
    settings, epochs = options(row, seed)
    trainer = qat_mlir.Trainer(module, **settings)
    started = time.perf_counter()
    history = trainer.fit((train_images, train_targets), epochs=epochs, progress=False)
    seconds = time.perf_counter() - started
    outputs = trainer.predict(test_images)
    result = {"map": mean_ap(outputs)}
    result["images_per_second"] = len(train_images) // BATCH * BATCH * len(history) / seconds
    if row != "fp32":
        program = qat_mlir.compile(trainer)
        int8 = program(test_images)
        result["int8_equal"] = bool(np.array_equal(int8, outputs))
        result["int8_map"] = mean_ap(int8)
    return result


def run_pytorch(seed):
    model = fresh(seed).train()
    # Weight decay on the convolution weights but the depthwise ones, as
    # the Trainer's weight_decay_conv and weight_decay_depthwise above.
    decay = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d) and
             (m.groups == 1 or m.groups != m.in_channels)]
    other = [p for p in model.parameters() if all(p is not q for q in decay)]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                                 {"params": other, "weight_decay": 0.0}],
                                lr=args.lr, momentum=0.9, nesterov=True)
    images = torch.from_numpy(normalized(train_images))
    targets = torch.from_numpy(train_targets)
    seconds = eager.train_sgd(lambda rows: model(images[rows], targets[rows])[0], optimizer,
                              len(images), BATCH, args.epochs, seed, args.lr)
    model.eval()
    with torch.no_grad():
        outputs = torch.cat([model.net(torch.from_numpy(normalized(test_images[i:i + 256])))
                             for i in range(0, len(test_images), 256)]).numpy()
    return {"map": mean_ap(outputs),
            "images_per_second": len(images) // BATCH * BATCH * args.epochs / seconds}


NAMES = {"fp32": "fp32", "qat": "QAT from scratch", "qat_sa_gb": "QAT + SA + GradBoost",
         "pytorch": "PyTorch eager fp32 (peer)"}
results = {}
for row in args.rows:
    for seed in args.seeds:
        result = run_pytorch(seed) if row == "pytorch" else run_ours(row, seed)
        results.setdefault(row, []).append(result)
        print(f"{NAMES[row]}, seed {seed}: " + ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()),
            flush=True)


print(f"\n{len(args.seeds)} seed(s), {args.epochs} epochs, {args.train} training and "
      f"{args.test} test scenes of {SIZE} x {SIZE}, batch {BATCH}, peak lr {args.lr}\n")
print("| row | test mAP@0.5 % | int8 = trained | int8 mAP@0.5 % | images/s |")
print("| --- | --- | --- | --- | --- |")
for row, runs in results.items():
    equal = ("yes" if all(r["int8_equal"] for r in runs) else "NO") if "int8_equal" in runs[0] \
        else "-"
    int8 = eager.spread([r["int8_map"] for r in runs]) if "int8_map" in runs[0] else "-"
    print(f"| {NAMES[row]} | {eager.spread([r['map'] for r in runs])} | {equal} | {int8} | "
          f"{statistics.median(r['images_per_second'] for r in runs):.0f} |")
