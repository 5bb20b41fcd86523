# A model prepared and trained by PyTorch's own QAT compiles to int8 with no
# hand edits: fuse_modules_qat + prepare_qat (the qnnpack qconfig with
# per-tensor weights, and the onednn one with per-channel weights) of a CNN with ConvBnReLU2d (with bias) and ConvBn2d (without),
# a FloatFunctional residual add, LinearReLU and Linear, trained 150 steps
# on Fashion-MNIST in PyTorch, switched to .eval() and traced.
#
# PyTorch's ConvBn QAT forward is conv(x, w * factor, zeros) / factor +
# bias before the batch norm; --qat-fold-batchnorm folds it (zero bias
# included) as PyTorch's convert does. .eval() leaves the FakeQuantize
# observers on; qat-compile picks @forward (the module has no
# @forward_eval) and freezes them, so the program is PyTorch's fake-quant
# forward after disable_observer(). Both evaluation traces (observers on,
# and off) and a training-mode trace (qat-import --mode train; qat-compile
# picks its @forward_eval) compile to the same program.
#
# Compared on the 10,000 test images with PyTorch's fake-quant forward
# (observers disabled): predictions, and the output codes (logit / output
# scale) element by element. They differ only where a float summation-order
# difference moves a value across a rounding boundary of a fake-quant
# (PyTorch sums convolutions in float, our program in int32).
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# CHECK-LABEL: qconfig qnnpack (per-tensor weights)
# CHECK: import: forward has 10 observers, 2 batch norms
# CHECK: observers on: compiled for {{x86_64-[a-z0-9]+}}
# CHECK: observers off: compiled for {{x86_64-[a-z0-9]+}}
# CHECK: the two programs' logits: identical
# CHECK: training-mode trace (freeze_bn, --mode train): logits identical
# CHECK: PyTorch fake-quant accuracy {{[0-9.]+}}%, ours {{[0-9.]+}}%
# CHECK: predictions differing: {{[0-9]+}} of 10000 (at most 20)
# CHECK: output codes equal: {{[0-9.]+}}% (at least 98%; {{[0-9]+}} of 100000 differ), max difference 1 step
# CHECK-LABEL: qconfig onednn (per-channel weights)
# CHECK: import: forward has 10 observers, 2 batch norms
# CHECK: the two programs' logits: identical
# CHECK: training-mode trace (freeze_bn, --mode train): logits identical
# CHECK: predictions differing: {{[0-9]+}} of 10000 (at most 20)
# CHECK: output codes equal: {{[0-9.]+}}% (at least 98%; {{[0-9]+}} of 100000 differ), max difference 1 step

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.ao.quantization as tq
import torch.nn as nn

from qat_mlir import datasets, models
from qat_mlir.tools import find_tool

warnings.filterwarnings("ignore")
out = sys.argv[1]
BATCH = 50


def run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr}")
    return done.stdout + done.stderr


train_images, train_labels = datasets.fashion_mnist("train")
test_images, test_labels = datasets.fashion_mnist("test")


def compile_and_compare(engine, weights):
    print(f"qconfig {engine} ({weights} weights)")
    torch.backends.quantized.engine = engine
    torch.manual_seed(0)
    Net = models.StubbedResidualCNN
    model = tq.fuse_modules_qat(Net(28).train(), Net.FUSE)
    model.qconfig = tq.get_default_qat_qconfig(engine)
    tq.prepare_qat(model, inplace=True)

    train_x = torch.from_numpy(datasets.normalize(train_images[:7500]))[:, None]
    train_y = torch.from_numpy(train_labels[:7500].astype(np.int64))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for step in range(150):
        batch = slice(step * BATCH, (step + 1) * BATCH)
        loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    # Traces run the model: the evaluation trace with observers on moves
    # their ranges (as PyTorch's .eval() forward does), then everything is
    # frozen and the other traces keep that state.
    model.eval()
    example = torch.zeros(BATCH, 1, 28, 28)
    torch.jit.trace(model, example, check_trace=False).save(f"{out}/{engine}-observing.pt")
    model.apply(tq.disable_observer)
    torch.jit.trace(model, example, check_trace=False).save(f"{out}/{engine}-frozen.pt")
    model.train()
    model.apply(torch.nn.intrinsic.qat.freeze_bn_stats)
    torch.jit.trace(model, example, check_trace=False).save(f"{out}/{engine}-train.pt")
    model.eval()

    data = datasets.FASHION_MNIST_DIR
    logits = {}
    for label, kind in (("observers on", "observing"), ("observers off", "frozen")):
        name = f"{engine}-{kind}"
        run([find_tool("qat-import"), f"{out}/{name}.pt", "--input-shape",
             f"{BATCH}x1x28x28", "-o", f"{out}/{name}.mlir"])
        if kind == "observing":
            text = open(f"{out}/{name}.mlir").read()
            forward = text[text.index("func.func @forward"):text.index("func.func @predict")]
            print(f"import: forward has {forward.count('qat.observe_')} observers, "
                  f"{forward.count('qat.batch_norm')} batch norms")
        run([find_tool("qat-compile"), f"{out}/{name}.mlir", "--emit=exe", "-o", f"{out}/{name}"])
        summary = run([f"{out}/{name}", f"{data}/t10k-images-idx3-ubyte.gz",
                       f"{data}/t10k-labels-idx1-ubyte.gz", "--logits", f"{out}/{name}.logits"])
        target = re.search(r"model \S+ \((\S+)\)", summary).group(1)
        print(f"{label}: compiled for {target}")
        logits[kind] = np.fromfile(f"{out}/{name}.logits", dtype=np.float32).reshape(-1, 10)
    same = np.array_equal(logits["observing"], logits["frozen"])
    print(f"the two programs' logits: {'identical' if same else 'DIFFERENT'}")

    # A training-mode trace (observers off, batch norm frozen with
    # freeze_bn_stats), imported with --mode train: qat-compile deploys its
    # @forward_eval, the same program again.
    name = f"{engine}-train"
    run([find_tool("qat-import"), f"{out}/{name}.pt", "--mode", "train",
         "--input-shape", f"{BATCH}x1x28x28", "-o", f"{out}/{name}.mlir"])
    run([find_tool("qat-compile"), f"{out}/{name}.mlir", "--emit=exe", "-o", f"{out}/{name}"])
    run([f"{out}/{name}", f"{data}/t10k-images-idx3-ubyte.gz", "--logits", f"{out}/{name}.logits"])
    train_logits = np.fromfile(f"{out}/{name}.logits", dtype=np.float32).reshape(-1, 10)
    same = np.array_equal(train_logits, logits["frozen"])
    print(f"training-mode trace (freeze_bn, --mode train): logits {'identical' if same else 'DIFFERENT'}")

    # PyTorch's fake-quant forward (observers off), on the same normalized images.
    with torch.no_grad():
        test_x = torch.from_numpy(datasets.normalize(test_images))[:, None]
        reference = torch.cat([model(test_x[i:i + 500]) for i in range(0, 10000, 500)]).numpy()
    ours = logits["frozen"]
    scale = float(model.fc2.activation_post_process.scale)
    codes_ref = np.round(reference / scale).astype(np.int64)
    codes_ours = np.round(ours / scale).astype(np.int64)
    equal = 100.0 * np.mean(codes_ref == codes_ours)
    max_diff = int(np.abs(codes_ref - codes_ours).max())
    accuracy = lambda l: 100.0 * np.mean(l.argmax(1) == test_labels)
    differing = int(np.sum(reference.argmax(1) != ours.argmax(1)))
    print(f"PyTorch fake-quant accuracy {accuracy(reference):.2f}%, ours {accuracy(ours):.2f}%")
    print(f"predictions differing: {differing} of 10000"
          + (" (at most 20)" if differing <= 20 else " (MORE THAN 20)"))
    print(f"output codes equal: {equal:.2f}%" + (" (at least 98%" if equal >= 98 else " (BELOW 98%")
          + f"; {int(np.sum(codes_ref != codes_ours))} of {codes_ref.size} differ)"
          + f", max difference {max_diff} step" + ("" if max_diff == 1 else "s"))


compile_and_compare("qnnpack", "per-tensor")
compile_and_compare("onednn", "per-channel")
