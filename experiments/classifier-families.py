"""The classifier-families experiment of docs/results.md (torchvision's
ShuffleNetV2 and MobileNetV3-small trained from scratch), one command:

    /usr/bin/python3 experiments/classifier-families.py            # full (3 seeds)
    /usr/bin/python3 experiments/classifier-families.py --quick    # ~15 minutes, mostly compiling

Models: torchvision's own definitions, shufflenet_v2_x1_0 and
mobilenet_v3_small, built with num_classes=10 and weights=None, with their
first convolution given 1 input channel for the grey 28 x 28 Fashion-MNIST
images (the only change; the rest is torchvision's, MobileNetV3's
training-mode dropout included). Trained from seeded random initialization
(PyTorch's own init of each model) with the method's classification
settings: QSGD, momentum 0.9, Nesterov, lr 5e-3 peak after a 1-epoch
linear warm-up, cosine decay, batch 64, weight decay 1e-5 on 4-D weights,
0 on depthwise ones, 1e-7 on the rest.

Rows (every row trains the same number of epochs in all):
  fp32                      no fake quantization
  QAT from scratch          --qat-prepare (per-tensor int8 weights, uint8
                            activations), QAT in every epoch
  QAT + SA + GradBoost      the first epoch is StatAssist's FP warm-up,
                            then QAT with GradBoost (reference variant)
  PyTorch eager fp32 (peer) the same model, torch.optim.SGD with the same
                            schedule, weight decay groups and batch order
Columns: test accuracy (fake quantization for the QAT rows) mean and
standard deviation over seeds, training images/s; for the QAT rows whether
the int8 program (qat_mlir.compile, host target) gives the trained model's
logits exactly on every test image, and its accuracy.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import qat_mlir  # noqa: E402
from qat_mlir import datasets  # noqa: E402
import eager  # noqa: E402

warnings.filterwarnings("ignore")
MODELS = ("shufflenet_v2_x1_0", "mobilenet_v3_small")
parser = argparse.ArgumentParser()
parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
parser.add_argument("--epochs", type=int, default=3, help="epochs in all, per row")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--train", type=int, default=16000, help="training images")
parser.add_argument("--test", type=int, default=10000, help="test images")
parser.add_argument("--lr", type=float, default=5e-3)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--rows", nargs="+", default=["fp32", "qat", "qat_sa_gb", "pytorch"])
parser.add_argument("--quick", action="store_true",
                    help="1 seed, 2 epochs, 6400 training and 2000 test images")
args = parser.parse_args()
if args.quick:
    args.seeds, args.epochs, args.train, args.test = [0], 2, 6400, 2000
torch.set_num_threads(args.threads)

BATCH = 64
train_images, train_labels = (a[:args.train] for a in datasets.fashion_mnist("train"))
test_images, test_labels = (a[:args.test] for a in datasets.fashion_mnist("test"))
train_labels, test_labels = train_labels.astype(np.int64), test_labels.astype(np.int64)


def fresh(name, seed):
    """torchvision's model for 10 classes, its first convolution on 1 channel."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None, num_classes=10)
    parent = model.conv1 if name.startswith("shufflenet") else model.features[0]
    first = parent[0]
    parent[0] = torch.nn.Conv2d(1, first.out_channels, first.kernel_size, first.stride,
                                first.padding, bias=False)
    torch.nn.init.kaiming_normal_(parent[0].weight, mode="fan_out")
    return model


def options(row, seed):
    common = dict(lr=args.lr, seed=seed, threads=args.threads,
                  input_mean=datasets.FASHION_MNIST_MEAN, input_std=datasets.FASHION_MNIST_STD)
    if row == "fp32":
        return dict(common, qconfig="", stat_assist_epochs=0, grad_boost=False,
                    target_exact=False), args.epochs
    if row == "qat":
        return dict(common, qconfig="per-tensor", stat_assist_epochs=0,
                    grad_boost=False), args.epochs
    return dict(common, qconfig="per-tensor", stat_assist_epochs=1, grad_boost=True), \
        args.epochs - 1


def accuracy(logits):
    return 100.0 * float((logits.argmax(1) == test_labels).mean())


def run_ours(name, row, seed):
    module = qat_mlir.import_module(fresh(name, seed), torch.zeros(BATCH, 1, 28, 28))
    settings, epochs = options(row, seed)
    trainer = qat_mlir.Trainer(module, **settings)
    started = time.perf_counter()
    history = trainer.fit((train_images, train_labels), epochs=epochs, progress=False)
    seconds = time.perf_counter() - started
    logits = trainer.predict(test_images)
    result = {"accuracy": accuracy(logits)}
    result["images_per_second"] = len(train_images) // BATCH * BATCH * len(history) / seconds
    if row != "fp32":
        program = qat_mlir.compile(trainer)
        int8 = program(test_images)
        result["int8_equal"] = bool(np.array_equal(int8, logits))
        result["int8_accuracy"] = accuracy(int8)
    return result


def run_pytorch(name, seed):
    model = fresh(name, seed).train()
    groups = {}
    for module in model.modules():
        for parameter in module.parameters(recurse=False):
            depthwise = isinstance(module, torch.nn.Conv2d) and module.groups > 1 and \
                module.groups == module.in_channels
            decay = 0.0 if depthwise else 1e-5 if parameter.dim() == 4 else 1e-7
            groups.setdefault(decay, []).append(parameter)
    optimizer = torch.optim.SGD([{"params": p, "weight_decay": d} for d, p in groups.items()],
                                lr=args.lr, momentum=0.9, nesterov=True)
    images = torch.from_numpy(datasets.normalize(train_images)[:, None])
    labels = torch.from_numpy(train_labels)
    seconds = eager.train_sgd(lambda rows: F.cross_entropy(model(images[rows]), labels[rows]),
                              optimizer, len(images), BATCH, args.epochs, seed, args.lr)
    model.eval()
    test = torch.from_numpy(datasets.normalize(test_images)[:, None])
    with torch.no_grad():
        logits = torch.cat([model(test[i:i + 500]) for i in range(0, len(test), 500)]).numpy()
    return {"accuracy": accuracy(logits),
            "images_per_second": len(images) // BATCH * BATCH * args.epochs / seconds}


NAMES = {"fp32": "fp32", "qat": "QAT from scratch", "qat_sa_gb": "QAT + SA + GradBoost",
         "pytorch": "PyTorch eager fp32 (peer)"}
results = {}
for name in args.models:
    for row in args.rows:
        for seed in args.seeds:
            result = run_pytorch(name, seed) if row == "pytorch" else run_ours(name, row, seed)
            results.setdefault(name, {}).setdefault(row, []).append(result)
            print(f"{name}, {NAMES[row]}, seed {seed}: " + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in result.items()), flush=True)


print(f"\n{len(args.seeds)} seed(s), {args.epochs} epochs, {args.train} training and "
      f"{args.test} test images, batch {BATCH}, peak lr {args.lr}\n")
print("| model | row | test accuracy % | int8 = trained | int8 accuracy % | images/s |")
print("| --- | --- | --- | --- | --- | --- |")
for name, rows in results.items():
    for row, runs in rows.items():
        equal = ("yes" if all(r["int8_equal"] for r in runs) else "NO") \
            if "int8_equal" in runs[0] else "-"
        int8 = eager.spread([r["int8_accuracy"] for r in runs]) if "int8_accuracy" in runs[0] else "-"
        print(f"| {name} | {NAMES[row]} | {eager.spread([r['accuracy'] for r in runs])} | {equal} | "
              f"{int8} | {statistics.median(r['images_per_second'] for r in runs):.0f} |")
