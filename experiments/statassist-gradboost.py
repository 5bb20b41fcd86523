"""The training experiment of docs/results.md, with one command:

    /usr/bin/python3 experiments/statassist-gradboost.py            # full
    /usr/bin/python3 experiments/statassist-gradboost.py --quick    # minutes

Rows, on Fashion-MNIST from seeded random initialization, batch 64, SGD
(momentum 0.9, Nesterov, the method's weight-decay groups), learning rate
with linear warm-up and cosine decay:
  fp32                      the model without fake quantization
  QAT from scratch          the fp32 import prepared by qat-train --qconfig
                            per-tensor (--qat-prepare: PyTorch's prepare_qat
                            with the qnnpack qconfig, same bits)
  QAT + StatAssist          + FP warm-up epochs (--fp-warmup-epochs)
  QAT + SA + GradBoost      + --grad-boost, reference and corrected variants
  PyTorch eager QAT (peer)  the same prepared model trained by PyTorch 1.13
                            (small CNN; its eager mode cannot fuse ReLU6 or
                            quantize the `+` of MobileNetV2's residuals)
Columns: test accuracy (fake quantization for QAT rows) mean and standard
deviation over seeds, and training images/s. Writes the table as Markdown.

Each finished run is recorded in experiments/runs (one JSON file named by
its settings) and not trained again, so that the MobileNetV2 rows (hours)
can be run in parts, a seed or a row at a time:

    /usr/bin/python3 experiments/statassist-gradboost.py --model mobilenet_v2 --seeds 0 --rows fp32 qat
"""

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import qat_mlir  # noqa: E402
from qat_mlir import datasets, models  # noqa: E402

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("--model", choices=["small_cnn", "mobilenet_v2"], default="small_cnn")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--fp-warmup-epochs", type=int, default=1)
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--lr", type=float, default=5e-3)
parser.add_argument("--lr-warmup-epochs", type=float, default=1.0)
parser.add_argument("--train-limit", type=int, default=0)
parser.add_argument("--test-limit", type=int, default=0)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--quick", action="store_true",
                    help="1 seed, 1 epoch (+1 warm-up), 12800 training and 2000 test images")
parser.add_argument("--output", default=None, help="Markdown table (default: stdout only)")
parser.add_argument("--runs", default=None,
                    help="directory of finished runs, one JSON file each (default: "
                         "experiments/runs; a fresh temporary one for --quick): a run "
                         "recorded there with the same settings is not trained again, so a "
                         "long experiment can be run in parts")
parser.add_argument("--rows", nargs="+", default=None,
                    choices=["fp32", "qat", "sa", "gb-reference", "gb-corrected", "peer"],
                    help="train only these rows; the table still shows every recorded row")
parser.add_argument("--rerun", action="store_true", help="train even if a run is recorded")
parser.add_argument("--cache-dir",
                    default=os.environ.get("QAT_MLIR_CACHE_DIR") or os.path.join(
                        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                        "qat-mlir"),
                    help="qat-train's compile cache: the seeds of a row share one compile "
                         "(default: $QAT_MLIR_CACHE_DIR, else ~/.cache/qat-mlir)")
args = parser.parse_args()
if args.quick:
    args.seeds, args.epochs, args.train_limit, args.test_limit = [0], 1, 12800, 2000
if args.runs is None:
    args.runs = (tempfile.mkdtemp(prefix="qat-runs-") if args.quick
                 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs"))
torch.set_num_threads(args.threads)
BATCH = 64
FUSE = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]]


def fresh(seed):
    torch.manual_seed(seed)
    if args.model == "mobilenet_v2":  # 28x28: width 0.5, first conv stride 1
        return models.MobileNetV2(num_classes=10, width_mult=0.5, in_channels=1,
                                  first_stride=1)
    return models.FusableSmallCNN()


def qat_train(model_path, tmp, name, extra):
    log = os.path.join(tmp, f"{name}.csv")
    command = [qat_mlir.find_tool("qat-train"), model_path, "--batch-size", str(BATCH),
               "--lr", str(args.lr), "--lr-warmup-epochs", str(args.lr_warmup_epochs),
               "--train-limit", str(args.train_limit), "--test-limit", str(args.test_limit),
               "--num-threads", str(args.threads), "--cache-dir", args.cache_dir, "--log", log,
               "--no-progress", *extra]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    rows = list(csv.DictReader(open(log)))
    speed = statistics.mean(float(r["images_per_second"]) for r in rows)
    return float(rows[-1]["test_accuracy"]), speed


def learning_rate(step, total, warmup):
    if step < warmup:
        return args.lr * (step + 1) / warmup
    return args.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def pytorch_qat(seed, train, test):
    """PyTorch 1.13 eager QAT of the same prepared model and schedule."""
    model = models.qat_ready(fresh(seed), FUSE)
    decay = {4: 1e-5}
    groups = {}
    for parameter in model.parameters():
        groups.setdefault(decay.get(parameter.dim(), 1e-7), []).append(parameter)
    optimizer = torch.optim.SGD([{"params": p, "weight_decay": d} for d, p in groups.items()],
                                lr=args.lr, momentum=0.9, nesterov=True)
    images, labels = train
    steps = len(images) // BATCH
    total, warmup = steps * args.epochs, round(args.lr_warmup_epochs * steps)
    seconds = 0.0
    for epoch in range(args.epochs):
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed + epoch))
        model.train()
        start = time.perf_counter()
        for step in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(epoch * steps + step, total, warmup)
            index = order[step * BATCH:(step + 1) * BATCH]
            optimizer.zero_grad()
            F.cross_entropy(model(images[index]), labels[index]).backward()
            optimizer.step()
        seconds += time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(test[0][i:i + 500]).argmax(1)
                                 for i in range(0, len(test[0]), 500)])
    accuracy = 100.0 * (predictions == test[1]).float().mean().item()
    return accuracy, steps * BATCH * args.epochs / seconds


def tensors(split, limit):
    images, labels = datasets.fashion_mnist(split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return (torch.from_numpy(datasets.normalize(images)[:, None]),
            torch.from_numpy(labels.astype(np.int64)))


train, test = tensors("train", args.train_limit), tensors("test", args.test_limit)
rows = {}
fp_warmup = ["--fp-warmup-epochs", str(args.fp_warmup_epochs)]
QCONFIG = ["--qconfig", "per-tensor"]  # qnnpack: int8 symmetric weights, uint8 activations
# (key, table row, qat-train options; None: PyTorch's eager QAT)
variants = [
    ("fp32", "fp32", []),
    ("qat", "QAT from scratch", QCONFIG),
    ("sa", "QAT + StatAssist", QCONFIG + fp_warmup),
    ("gb-reference", "QAT + StatAssist + GradBoost (reference)",
     QCONFIG + fp_warmup + ["--grad-boost"]),
    ("gb-corrected", "QAT + StatAssist + GradBoost (corrected)",
     QCONFIG + fp_warmup + ["--grad-boost", "--grad-boost-variant", "corrected"]),
]
if args.model == "small_cnn":
    variants.append(("peer", "PyTorch 1.13 eager QAT (qnnpack), peer", None))


def run_record(key, seed):
    """Where a run with these settings is recorded."""
    warmup = args.fp_warmup_epochs if key in ("sa", "gb-reference", "gb-corrected") else 0
    name = (f"{args.model}-{key}-seed{seed}-epochs{args.epochs}-warmup{warmup}"
            f"-lr{args.lr}-lrwarmup{args.lr_warmup_epochs}"
            f"-train{args.train_limit or 60000}-test{args.test_limit or 10000}.json")
    return os.path.join(args.runs, name)


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


os.makedirs(args.runs, exist_ok=True)
COMMIT = git_commit()  # the code the runs start with
with tempfile.TemporaryDirectory() as tmp:
    for seed in args.seeds:
        example = torch.zeros(BATCH, 1, 28, 28)
        torch.jit.trace(fresh(seed).train(), example, check_trace=False).save(f"{tmp}/fp.pt")
        for key, name, options in variants:
            path = run_record(key, seed)
            if os.path.exists(path) and not args.rerun:
                record = json.load(open(path))
                print(f"seed {seed}: {name}: {record['accuracy']:.2f}% "
                      f"({record['images_per_second']:.0f} images/s), recorded "
                      f"{record['date']}", flush=True)
            elif args.rows is None or key in args.rows:
                if options is None:
                    accuracy, speed = pytorch_qat(seed, train, test)
                else:
                    accuracy, speed = qat_train(
                        f"{tmp}/fp.pt", tmp, f"{key}-{seed}",
                        ["--epochs", str(args.epochs), "--seed", str(seed), *options])
                record = {"model": args.model, "row": name, "seed": seed,
                          "accuracy": accuracy, "images_per_second": speed,
                          "epochs": args.epochs, "threads": args.threads,
                          "date": time.strftime("%Y-%m-%d"), "commit": COMMIT}
                # Write then rename: a killed run leaves no half-written record.
                with open(path + ".tmp", "w") as f:
                    json.dump(record, f, indent=1)
                os.replace(path + ".tmp", path)
                print(f"seed {seed}: {name}: {accuracy:.2f}% ({speed:.0f} images/s)",
                      flush=True)
            else:
                continue
            rows.setdefault(name, []).append((record["accuracy"], record["images_per_second"]))


def summary(values):
    accuracies = [a for a, _ in values]
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    return (f"{statistics.mean(accuracies):.2f} ± {spread:.2f}",
            f"{statistics.mean(s for _, s in values):.0f}")


MODEL_NAMES = {"small_cnn": "small CNN", "mobilenet_v2": "MobileNetV2 (28x28, width 0.5)"}
table = [f"| model: {MODEL_NAMES[args.model]} | test accuracy, % (mean ± std) | training images/s |",
         "| --- | --- | --- |"]
for _, name, _ in variants:
    if name not in rows:
        continue
    values = rows[name]
    accuracy, speed = summary(values)
    seeds = "" if len(values) == len(args.seeds) else f" ({len(values)} of {len(args.seeds)} seeds)"
    table.append(f"| {name}{seeds} | {accuracy} | {speed} |")
setup = (f"{len(args.seeds)} seed(s) {args.seeds}, {args.epochs} epoch(s)"
         f" (+{args.fp_warmup_epochs} FP warm-up for StatAssist rows), batch {BATCH},"
         f" lr {args.lr}, train images {args.train_limit or 60000},"
         f" test images {args.test_limit or 10000}")
text = "\n".join([setup, "", *table])
print(text)
if args.output:
    with open(args.output, "w") as f:
        f.write(text + "\n")
