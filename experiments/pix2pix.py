"""The image-to-image GAN experiment of docs/results.md, with one command:

    /usr/bin/python3 experiments/pix2pix.py            # full (3 seeds)
    /usr/bin/python3 experiments/pix2pix.py --quick    # minutes

Data: datasets.fashion_outlines, outline -> item pairs of 32 x 32 images
in [-1, 1] made from the packaged Fashion-MNIST (training pairs from its
training images, held-out pairs from its test images). Models:
models.UNetGenerator (a Pix2Pix U-Net with transposed convolutions and
batch norm) and models.PatchDiscriminator (PatchGAN, instance norm),
trained in alternation by qat_mlir.gan.Pix2PixTrainer from seeded random
initialization, Pix2Pix's loss (adversarial BCE + 100 x L1) and the
method's settings for Pix2Pix generators: QAdam (betas 0.5, 0.999) at lr
2e-4, GradBoost clip 1e-3, no weight decay; a linear warm-up over the first
epoch and a cosine decay, batch 16.

Rows (every row trains the same number of epochs in all, both networks
the same way):
  fp32                      no fake quantization
  QAT from scratch          per-tensor int8 weights, uint8 activations,
                            QAT in every epoch
  QAT + SA + GradBoost      the first epoch is StatAssist's FP warm-up,
                            then QAT with GradBoost (QAdam)
  PyTorch eager fp32 (peer) the same models, losses, alternation order and
                            schedule, torch.optim.Adam
Columns: the generator's held-out L1 and PSNR (evaluation mode: fake
quantization for the QAT rows), mean and standard deviation over seeds;
for the QAT rows whether the generator's int8 program (qat_mlir.compile,
host target) gives the trained generator's images exactly, and its PSNR.
It also writes pix2pix-grid.png: outlines, targets, and the first seed's
fp32, QAT + SA + GradBoost and int8 images.
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

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import qat_mlir  # noqa: E402
from qat_mlir import _qat_mlir as native  # noqa: E402
from qat_mlir import datasets, gan, models  # noqa: E402

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=6, help="epochs in all, per row")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--train", type=int, default=8192, help="training pairs")
parser.add_argument("--test", type=int, default=1024, help="held-out pairs")
parser.add_argument("--lr", type=float, default=2e-4)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--rows", nargs="+", default=["fp32", "qat", "qat_sa_gb", "pytorch"])
parser.add_argument("--grid", default="pix2pix-grid.png")
parser.add_argument("--quick", action="store_true",
                    help="1 seed, 3 epochs, 2048 training and 256 held-out pairs")
args = parser.parse_args()
if args.quick:
    args.seeds, args.epochs, args.train, args.test = [0], 3, 2048, 256

BATCH, SHAPE, L1_WEIGHT = 16, (1, 32, 32), 100.0
train = datasets.fashion_outlines("train", args.train, seed=1)
test = datasets.fashion_outlines("test", args.test, seed=2)


def fresh(seed):
    torch.manual_seed(seed)
    return models.UNetGenerator(), models.PatchDiscriminator()


def options(row, seed):
    common = dict(lr=args.lr, seed=seed, threads=args.threads)
    if row == "fp32":
        return dict(common, qconfig="", stat_assist_epochs=0, grad_boost=False,
                    target_exact=False), args.epochs
    if row == "qat":
        return dict(common, qconfig="per-tensor", stat_assist_epochs=0, grad_boost=False), \
            args.epochs
    return dict(common, qconfig="per-tensor", stat_assist_epochs=1, grad_boost=True), \
        args.epochs - 1


def metrics(images):
    return (float(np.abs(images - test[1]).mean()), datasets.psnr(images, test[1]))


def run_ours(row, seed):
    settings, epochs = options(row, seed)
    trainer = gan.Pix2PixTrainer(*fresh(seed), BATCH, SHAPE, L1_WEIGHT, **settings)
    started = time.perf_counter()
    history = trainer.fit(train, epochs=epochs)
    seconds = time.perf_counter() - started
    images = trainer.generate(test[0])
    result = dict(zip(("l1", "psnr"), metrics(images)))
    result["pairs_per_second"] = len(train[0]) // BATCH * BATCH * len(history) / seconds
    result["images"] = images
    if row != "fp32":
        program = qat_mlir.compile(trainer.generator)
        int8 = program(test[0])
        result["int8_equal"] = bool(np.array_equal(int8, images))
        result["int8_psnr"] = datasets.psnr(int8, test[1])
        result["int8_images"] = int8
    return result


def run_pytorch(seed):
    generator, discriminator = fresh(seed)
    generator_loss = gan.GeneratorLoss(generator, discriminator, L1_WEIGHT).train()
    discriminator_loss = gan.DiscriminatorLoss(discriminator).train()
    g_opt = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    inputs, targets = (torch.from_numpy(a) for a in train)
    steps = len(inputs) // BATCH
    total, warmup = steps * args.epochs, steps
    started = time.perf_counter()
    for epoch in range(args.epochs):
        order = native.epoch_order(seed, epoch, len(inputs))
        for step in range(steps):
            rows = torch.from_numpy(np.asarray(order[step * BATCH:(step + 1) * BATCH]))
            lr = native.learning_rate_at(epoch * steps + step, total, warmup, args.lr)
            for optimizer in (g_opt, d_opt):
                for group in optimizer.param_groups:
                    group["lr"] = lr
            # The order of Pix2PixTrainer: the generator against the
            # discriminator of the previous batch, then the discriminator.
            generator_loss.discriminator.load_state_dict(discriminator.state_dict())
            g_opt.zero_grad()
            loss, generated = generator_loss(inputs[rows], targets[rows])
            loss.backward()
            g_opt.step()
            d_opt.zero_grad()
            loss, _ = discriminator_loss(inputs[rows], targets[rows], generated.detach())
            loss.backward()
            d_opt.step()
    seconds = time.perf_counter() - started
    generator.eval()
    with torch.no_grad():
        images = generator(torch.from_numpy(test[0])).numpy()
    result = dict(zip(("l1", "psnr"), metrics(images)))
    result["pairs_per_second"] = steps * BATCH * args.epochs / seconds
    result["images"] = images
    return result


NAMES = {"fp32": "fp32", "qat": "QAT from scratch", "qat_sa_gb": "QAT + SA + GradBoost",
         "pytorch": "PyTorch eager fp32 (peer)"}
results = {}
for row in args.rows:
    for seed in args.seeds:
        result = run_pytorch(seed) if row == "pytorch" else run_ours(row, seed)
        results.setdefault(row, []).append(result)
        print(f"{NAMES[row]}, seed {seed}: " + ", ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in result.items() if not k.endswith("images")), flush=True)


def spread(values, digits):
    mean = statistics.mean(values)
    text = f"{mean:.{digits}f}"
    return text + (f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else "")


print(f"\n{len(args.seeds)} seed(s), {args.epochs} epochs, {args.train} training and "
      f"{args.test} held-out pairs of 32 x 32, batch {BATCH}\n")
print("| row | held-out L1 | PSNR (dB) | int8 = trained | int8 PSNR (dB) | pairs/s |")
print("| --- | --- | --- | --- | --- | --- |")
for row, runs in results.items():
    equal = ("yes" if all(r["int8_equal"] for r in runs) else "NO") if "int8_equal" in runs[0] \
        else "-"
    int8 = spread([r["int8_psnr"] for r in runs], 2) if "int8_psnr" in runs[0] else "-"
    print(f"| {NAMES[row]} | {spread([r['l1'] for r in runs], 4)} | "
          f"{spread([r['psnr'] for r in runs], 2)} | {equal} | {int8} | "
          f"{statistics.median(r['pairs_per_second'] for r in runs):.0f} |")

if args.grid:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [("outline", test[0]), ("target", test[1])]
    for row, label in (("fp32", "fp32"), ("qat_sa_gb", "QAT+SA+GB")):
        if row in results:
            rows.append((label, results[row][0]["images"]))
    if "qat_sa_gb" in results:
        rows.append(("int8", results["qat_sa_gb"][0]["int8_images"]))
    columns = 8
    figure, axes = plt.subplots(len(rows), columns, figsize=(columns, len(rows)))
    for r, (label, images) in enumerate(rows):
        for c in range(columns):
            axes[r, c].imshow(images[c, 0], cmap="gray", vmin=-1, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=8)
    figure.tight_layout()
    figure.savefig(args.grid, dpi=100)
    print(f"\nwrote {args.grid}")
