# qat-train with StatAssist and GradBoost on a model prepared for QAT by
# PyTorch (Conv+BN+ReLU in QAT form, qnnpack qconfig): one FP warm-up epoch
# (the derived warm-up step: no fake quantization, GradBoost statistics
# without noise), then QAT with noise. The log shows both phases, the
# GradBoost counters count 32 steps of statistics and 16 of noise, the
# reference mode keeps the warm-up's observer state apart (stat_assist.*),
# --inherit-observers does not, and a model without fake quantization is
# refused. The fp32 model prepared by qat-train itself (--qconfig, i.e.
# --qat-prepare) trains the same way and its checkpoint resumes with the
# same command line; --freeze-bn-after-epochs switches to the step whose
# batch norms use (and keep) their running statistics. The same with
# QAdam (--optimizer adam --grad-boost).
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK: epoch 1/2 (FP warm-up): train loss {{[0-9.]+}}, train accuracy {{[0-9.]+}}%, test accuracy {{[0-9.]+}}%
# CHECK: epoch 2/2: train loss
# CHECK: log phases: fp, train
# CHECK: grad boost counters: 32 steps, 16 with noise
# CHECK: reference: {{[0-9]+}} stat_assist.* globals; inherit: none
# CHECK: QAT test accuracy {{[0-9.]+}}% > 30%
# CHECK: no fake quantization: {{.*}}error: {{.*}}has no qat.fake_quant to bypass: StatAssist needs a model with fake quantization (run --qat-prepare first; qat-train --qconfig does)
# CHECK: --qconfig per-tensor: fp32 model prepared, QAT test accuracy {{[0-9.]+}}% > 30%, {{[0-9]+}} quantization globals
# CHECK: --qconfig per-channel: resumed at epoch 3 from the checkpoint; with --freeze-bn-after-epochs 1 the running statistics stay, the weights train
# CHECK: bad qconfig: {{.*}}qat-prepare: unknown weights 'per-row' (expected per-tensor or per-channel)
# CHECK: QAdam: 14 moments, adam.step 32 after warm-up and QAT, 48 after a resumed epoch; QAT test accuracy {{[0-9.]+}}% > 30%
# CHECK: bad optimizer: {{.*}}unknown optimizer 'adagrad' (sgd, adam)

import csv
import re
import subprocess
import sys
import warnings

import torch

import qat_mlir
from qat_mlir import models

warnings.filterwarnings("ignore")
out = sys.argv[1]


torch.manual_seed(0)
model = models.qat_ready(models.ConvBnReluNet(), models.ConvBnReluNet.FUSE)
state = {k: v.clone() for k, v in model.state_dict().items()}
torch.jit.trace(model, torch.randn(32, 1, 28, 28), check_trace=False).save(f"{out}/qat.pt")
torch.manual_seed(0)
torch.jit.trace(models.SmallCNN().train(), torch.randn(32, 1, 28, 28)).save(f"{out}/fp.pt")

train = qat_mlir.find_tool("qat-train")
common = ["--batch-size", "32", "--train-limit", "512", "--test-limit", "256", "--no-progress",
          "--lr", "0.02", "--lr-warmup-epochs", "0.25", "--fp-warmup-epochs", "1",
          "--epochs", "1", "--grad-boost"]


def run(*args, check=True):
    done = subprocess.run([train, *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(done.stderr)
    return done


print(run(f"{out}/qat.pt", *common, "-o", f"{out}/reference.mlir", "--log",
          f"{out}/log.csv").stdout, end="")
rows = list(csv.DictReader(open(f"{out}/log.csv")))
print("log phases: " + ", ".join(row["phase"] for row in rows))

text = open(f"{out}/reference.mlir").read()
counters = {name: int(value) for name, value in re.findall(
    r"@grad_boost\.(step|qat_steps)\(dense<(\d+)>", text)}
assert counters == {"step": 32, "qat_steps": 16}, counters
print(f"grad boost counters: {counters['step']} steps, {counters['qat_steps']} with noise")

run(f"{out}/qat.pt", *common, "--inherit-observers", "-o", f"{out}/inherit.mlir")
reference = len(re.findall(r"ml_program.global private mutable @stat_assist\.", text))
inherit = len(re.findall(r"@stat_assist\.", open(f"{out}/inherit.mlir").read()))
assert reference > 0 and inherit == 0
print(f"reference: {reference} stat_assist.* globals; inherit: none")
accuracy = float(rows[-1]["test_accuracy"])
assert accuracy > 30, accuracy
print(f"QAT test accuracy {accuracy:.1f}% > 30%")

done = run(f"{out}/fp.pt", *common, "-o", f"{out}/bad.mlir", check=False)
assert done.returncode == 1
print("no fake quantization: " + done.stderr.strip().splitlines()[0])

# The fp32 model, prepared by qat-train (--qat-prepare): StatAssist and
# GradBoost as above.
run(f"{out}/fp.pt", *common, "--qconfig", "per-tensor", "-o", f"{out}/prepared.mlir", "--log",
    f"{out}/prepared.csv")
rows = list(csv.DictReader(open(f"{out}/prepared.csv")))
accuracy = float(rows[-1]["test_accuracy"])
assert [row["phase"] for row in rows] == ["fp", "train"] and accuracy > 30, (rows, accuracy)
prepared = open(f"{out}/prepared.mlir").read()
quantization = re.findall(r"ml_program.global private mutable @(\S+)\.(?:scale|zero_point)\(",
                          prepared)
assert "conv1.weight_fake_quant" in quantization and "qat.fake_quant" in prepared
print(f"--qconfig per-tensor: fp32 model prepared, QAT test accuracy {accuracy:.1f}% > 30%, "
      f"{len(quantization)} quantization globals")

per_channel = [*common, "--qconfig", "per-channel", "-o", f"{out}/per-channel.mlir"]
run(f"{out}/fp.pt", *per_channel)
checkpoint = open(f"{out}/per-channel.mlir").read()
assert "axis 0" in checkpoint
resume = [a if a != "1" or i != per_channel.index("--epochs") + 1 else "2"
          for i, a in enumerate(per_channel)]


def global_value(text, name):
    return re.search(rf"@{re.escape(name)}\((dense<[^>]*>)", text).group(1)


for freeze in (False, True):
    target = f"{out}/resumed-{freeze}.mlir"
    extra = ["--freeze-bn-after-epochs", "1"] if freeze else []
    resumed = run(f"{out}/per-channel.mlir", *resume[:-1], target, *extra)
    assert "epoch 3/3" in resumed.stdout, resumed.stdout
    text = open(target).read()
    stats_kept = all(global_value(text, n) == global_value(checkpoint, n)
                     for n in ("bn1.running_mean", "bn2.running_var"))
    assert stats_kept == freeze and "forward_frozen_bn" not in text, (freeze, stats_kept)
    assert global_value(text, "conv1.weight") != global_value(checkpoint, "conv1.weight")
print("--qconfig per-channel: resumed at epoch 3 from the checkpoint; with "
      "--freeze-bn-after-epochs 1 the running statistics stay, the weights train")

done = run(f"{out}/fp.pt", *common, "--qconfig", "per-row", "-o", f"{out}/bad.mlir", check=False)
assert done.returncode == 1 and not __import__("os").path.exists(f"{out}/bad.mlir")
print("bad qconfig: " + done.stderr.strip().splitlines()[0])

# QAdam: Adam with GradBoost, through StatAssist. The warm-up and QAT steps
# share one optimizer state (the method's single optimizer object): after
# 16 warm-up and 16 QAT steps Adam has counted 32, and a resumed run goes
# on counting from the checkpoint.
adam = [a if a != "0.02" else "0.002" for a in common] + ["--optimizer", "adam"]
run(f"{out}/qat.pt", *adam, "-o", f"{out}/qadam.mlir", "--log", f"{out}/qadam.csv")
text = open(f"{out}/qadam.mlir").read()
rows = list(csv.DictReader(open(f"{out}/qadam.csv")))
accuracy = float(rows[-1]["test_accuracy"])
adam_step = int(re.search(r"@adam\.step\(dense<(\d+)>", text).group(1))
moments = len(re.findall(r"ml_program.global private mutable @adam\.exp_avg(?:_sq)?\.", text))
assert adam_step == 32 and "sgd.momentum" not in text and accuracy > 30, (adam_step, accuracy)
resumed = [a if a != "1" or i != adam.index("--epochs") + 1 else "2" for i, a in enumerate(adam)]
run(f"{out}/qadam.mlir", *resumed, "-o", f"{out}/qadam-resumed.mlir")
resumed_step = int(re.search(r"@adam\.step\(dense<(\d+)>",
                             open(f"{out}/qadam-resumed.mlir").read()).group(1))
print(f"QAdam: {moments} moments, adam.step {adam_step} after warm-up and QAT, "
      f"{resumed_step} after a resumed epoch; QAT test accuracy {accuracy:.1f}% > 30%")
done = run(f"{out}/qat.pt", *common, "--optimizer", "adagrad", "-o", f"{out}/bad.mlir",
           check=False)
assert done.returncode == 1 and not __import__("os").path.exists(f"{out}/bad.mlir")
print("bad optimizer: " + done.stderr.strip().splitlines()[0])
