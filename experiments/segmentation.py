"""The semantic-segmentation experiment of docs/results.md, with one command:

    /usr/bin/python3 experiments/segmentation.py            # full (3 seeds)
    /usr/bin/python3 experiments/segmentation.py --quick    # minutes

Data: datasets.fashion_scenes, scenes of Fashion-MNIST items on a 48 x 48
canvas with per-pixel classes (background + the 10 garment classes), made
from the packaged Fashion-MNIST (training scenes from its training images,
test scenes from its test images). Model: models.SegmentationNet (a
MobileNetV2-style encoder-decoder) with PyTorch's per-pixel
F.cross_entropy as the loss its forward returns (models.WithLoss), trained
from seeded random initialization with QSGD's settings for segmentation
(SGD, momentum 0.9, Nesterov, weight decay 4e-5 on convolution weights;
a linear warm-up over the first epoch and a cosine decay), batch 32. The
peak learning rate is 5e-2, not the method's 1e-2: this schedule is a few
epochs long, and at 1e-2 every row stays near 12% mIoU (measured).

Rows (every row trains the same number of epochs in all):
  fp32                      no fake quantization
  QAT from scratch          --qat-prepare (per-tensor int8 weights, uint8
                            activations), QAT in every epoch
  QAT + SA + GradBoost      the first epoch is StatAssist's FP warm-up,
                            then QAT with GradBoost (reference variant)
  PyTorch eager fp32 (peer) the same model and loss, torch.optim.SGD with
                            the same schedule and batch order
Columns: test mIoU (fake quantization for the QAT rows) mean and standard
deviation over seeds, pixel accuracy, training images/s; for the QAT rows
whether the int8 program (qat_mlir.compile, host target) gives the trained
model's outputs exactly on every test scene, and its mIoU.
"""

import argparse
import math
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import qat_mlir  # noqa: E402
from qat_mlir import _qat_mlir as native  # noqa: E402
from qat_mlir import datasets, models  # noqa: E402

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

BATCH, SIZE, CLASSES = 32, 48, 11
train = datasets.fashion_scenes("train", args.train, seed=1, size=SIZE)
test = datasets.fashion_scenes("test", args.test, seed=2, size=SIZE)
# The scenes' own normalization, as Trainer.fit computes it for uint8 data.
MEAN = float(train[0].mean() / 255.0)
STD = float((train[0] / 255.0).std())


def normalized(images):
    x = images.astype(np.float32) / np.float32(255)
    return (x - np.float32(MEAN)) / np.float32(STD)


def fresh(seed):
    torch.manual_seed(seed)
    return models.WithLoss(models.SegmentationNet(CLASSES), F.cross_entropy)


def options(row, seed):
    common = dict(lr=args.lr, seed=seed, threads=args.threads, weight_decay_conv=4e-5,
                  weight_decay_depthwise=0.0, weight_decay_other=0.0,
                  input_mean=MEAN, input_std=STD)
    if row == "fp32":
        return dict(common, qconfig="", stat_assist_epochs=0, grad_boost=False,
                    target_exact=False), args.epochs
    if row == "qat":
        return dict(common, qconfig="per-tensor", stat_assist_epochs=0,
                    grad_boost=False), args.epochs
    return dict(common, qconfig="per-tensor", stat_assist_epochs=1, grad_boost=True), \
        args.epochs - 1


def scores_metrics(scores, masks):
    predicted = scores.argmax(1)
    return (100.0 * datasets.mean_iou(predicted, masks, CLASSES),
            100.0 * float((predicted == masks).mean()))


def run_ours(row, seed):
    example = (torch.zeros(BATCH, 1, SIZE, SIZE), torch.zeros(BATCH, SIZE, SIZE, dtype=torch.long))
    module = qat_mlir.import_module(fresh(seed), example)
    settings, epochs = options(row, seed)
    trainer = qat_mlir.Trainer(module, **settings)
    started = time.perf_counter()
    history = trainer.fit(train, epochs=epochs, progress=False)
    seconds = time.perf_counter() - started
    scores = trainer.predict(test[0])
    result = dict(zip(("miou", "pixel"), scores_metrics(scores, test[1])))
    result["images_per_second"] = len(train[0]) // BATCH * BATCH * len(history) / seconds
    if row != "fp32":
        program = qat_mlir.compile(trainer)
        int8 = program(test[0])
        result["int8_equal"] = bool(np.array_equal(int8, scores))
        result["int8_miou"] = scores_metrics(int8, test[1])[0]
    return result


def run_pytorch(seed):
    model = fresh(seed).train()
    decay = [p for n, p in model.named_parameters() if p.dim() == 4 and
             not n.endswith("refine.0.weight") and "conv.1.0" not in n]
    other = [p for p in model.parameters() if all(p is not q for q in decay)]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 4e-5},
                                 {"params": other, "weight_decay": 0.0}],
                                lr=args.lr, momentum=0.9, nesterov=True)
    images = torch.from_numpy(normalized(train[0]))
    masks = torch.from_numpy(train[1])
    steps = len(images) // BATCH
    total, warmup = steps * args.epochs, steps
    started = time.perf_counter()
    for epoch in range(args.epochs):
        order = native.epoch_order(seed, epoch, len(images))
        for step in range(steps):
            rows = torch.from_numpy(np.asarray(order[step * BATCH:(step + 1) * BATCH]))
            for group in optimizer.param_groups:
                group["lr"] = native.learning_rate_at(epoch * steps + step, total,
                                                                warmup, args.lr)
            optimizer.zero_grad()
            loss, _ = model(images[rows], masks[rows])
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad():
        scores = torch.cat([model.net(torch.from_numpy(normalized(test[0][i:i + 256])))
                            for i in range(0, len(test[0]), 256)]).numpy()
    result = dict(zip(("miou", "pixel"), scores_metrics(scores, test[1])))
    result["images_per_second"] = steps * BATCH * args.epochs / seconds
    return result


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


def spread(values):
    mean = statistics.mean(values)
    return f"{mean:.2f}" + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")


print(f"\n{len(args.seeds)} seed(s), {args.epochs} epochs, {args.train} training and "
      f"{args.test} test scenes of {SIZE} x {SIZE}, batch {BATCH}\n")
print("| row | test mIoU % | pixel accuracy % | int8 = trained | int8 mIoU % | images/s |")
print("| --- | --- | --- | --- | --- | --- |")
for row, runs in results.items():
    equal = ("yes" if all(r["int8_equal"] for r in runs) else "NO") if "int8_equal" in runs[0] \
        else "-"
    int8 = spread([r["int8_miou"] for r in runs]) if "int8_miou" in runs[0] else "-"
    print(f"| {NAMES[row]} | {spread([r['miou'] for r in runs])} | "
          f"{spread([r['pixel'] for r in runs])} | {equal} | {int8} | "
          f"{statistics.median(r['images_per_second'] for r in runs):.0f} |")
