"""torchvision's ShuffleNetV2 and MobileNetV3-small (their own definitions,
the first convolution on 1 channel) trained QAT from scratch with
StatAssist and GradBoost on Fashion-MNIST, and deployed int8:

- the import keeps torchvision's structure (channel shuffles, chunks and
  concatenations; hardswish, squeeze-and-excitation with hardsigmoid,
  training-mode dropout);
- from scratch, two epochs lower the training loss: ShuffleNetV2 one FP
  warm-up epoch (StatAssist) and one QAT epoch with GradBoost,
  MobileNetV3 two QAT epochs with GradBoost;
- ShuffleNetV2 classifies the test images far above chance (MobileNetV3's
  batch norms, with torchvision's momentum 0.01, need more steps than this
  test takes before their running statistics are usable);
- the int8 program gives the trained model's logits exactly on every test
  image, with the ops that have no integer form (concatenations of
  different grids, hardswish, the excitation products) in float between
  quantized values.

experiments/classifier-families.py trains them for longer
(docs/results.md#shufflenetv2-and-mobilenetv3-small).
"""

import numpy as np
import pytest
import torch
import torchvision

import qat_mlir
from qat_mlir import datasets


def one_channel(name):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=10)
    parent = model.conv1 if name.startswith("shufflenet") else model.features[0]
    first = parent[0]
    parent[0] = torch.nn.Conv2d(1, first.out_channels, first.kernel_size, first.stride,
                                first.padding, bias=False)
    return model


# ShuffleNetV2 takes the whole method (an FP warm-up epoch, then QAT with
# GradBoost); MobileNetV3 QAT with GradBoost from the first step, which
# compiles one training step rather than two (each takes about 100 s to
# compile: the speed issue's compile time) while the StatAssist path is
# the same code for both.
@pytest.mark.parametrize("name,stat_assist_epochs,min_accuracy",
                         [("shufflenet_v2_x0_5", 1, 0.5), ("mobilenet_v3_small", 0, None)])
def test_trains_from_scratch_and_deploys_bit_exact(name, stat_assist_epochs, min_accuracy):
    train_images, train_labels = datasets.fashion_mnist("train")
    test_images, test_labels = datasets.fashion_mnist("test")
    train = (train_images[:3200], train_labels[:3200].astype(np.int64))
    test_images, test_labels = test_images[:1000], test_labels[:1000]
    module = qat_mlir.import_module(one_channel(name), torch.zeros(64, 1, 28, 28))
    assert "qat.dropout" in module.mlir or name.startswith("shufflenet")
    trainer = qat_mlir.Trainer(module, lr=2e-2, stat_assist_epochs=stat_assist_epochs,
                               grad_boost=True, threads=2, seed=1)
    history = trainer.fit(train, epochs=2 - stat_assist_epochs, progress=False)
    assert [h["phase"] for h in history] == ["fp_warmup"] * stat_assist_epochs + \
        ["qat"] * (2 - stat_assist_epochs)
    assert history[1]["loss"] < history[0]["loss"], history
    logits = trainer.predict(test_images)
    accuracy = float((logits.argmax(1) == test_labels).mean())
    if min_accuracy is not None:
        assert accuracy >= min_accuracy, accuracy
    program = qat_mlir.compile(trainer)
    assert program.quantized and program.float_ops > 0
    np.testing.assert_array_equal(program(test_images), logits)
