"""Models that return their loss, through the Python API: a segmentation
network whose forward returns (per-pixel cross-entropy, scores), trained QAT
from scratch with StatAssist and GradBoost on scenes of Fashion-MNIST items
(datasets.fashion_scenes), then compiled to int8.

- The loss falls and the trained network segments (pixel accuracy and mIoU
  above the background-only guess).
- The int8 program maps scenes to scores alone (no targets) and equals the
  trained model's outputs on every test scene.
- A regression loss with float targets trains too; bad targets raise
  ValueError naming them; qat-train refuses such a model, and a model that
  returns only its loss has nothing to deploy.
"""

import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import qat_mlir
from qat_mlir import datasets, models

BATCH, SIZE, CLASSES = 16, 32, 11
OPTIONS = dict(stat_assist_epochs=1, grad_boost=True, lr=0.05, seed=1, threads=2)


class Net(nn.Module):
    def __init__(self, outputs=CLASSES):
        super().__init__()
        self.encode = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.decode = nn.Sequential(
            nn.Upsample(scale_factor=2), nn.Conv2d(32, 16, 3, padding=1),
            nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, outputs, 1))

    def forward(self, x):
        return self.decode(self.encode(x))


@pytest.fixture(scope="module")
def segmentation():
    train = datasets.fashion_scenes("train", 1024, seed=1, size=SIZE, items=2)
    test = datasets.fashion_scenes("test", 128, seed=2, size=SIZE, items=2)
    torch.manual_seed(0)
    model = models.WithLoss(Net(), F.cross_entropy)
    module = qat_mlir.import_module(model, (torch.zeros(BATCH, 1, SIZE, SIZE),
                                            torch.zeros(BATCH, SIZE, SIZE, dtype=torch.long)))
    trainer = qat_mlir.Trainer(module, **OPTIONS)
    history = trainer.fit(train, epochs=2, validation_data=test, progress=False)
    return dict(train=train, test=test, module=module, trainer=trainer, history=history)


def test_segmentation_trains_and_int8_equals_trained_model(segmentation):
    trainer, test, history = (segmentation[k] for k in ("trainer", "test", "history"))
    assert trainer.returns_loss and trainer.num_classes == 0
    assert [h["phase"] for h in history] == ["fp_warmup", "qat", "qat"]
    assert history[-1]["loss"] < 0.85 * history[0]["loss"], history
    assert history[-1]["val_loss"] < history[0]["val_loss"], history
    scores = trainer.predict(test[0])
    assert scores.shape == (128, CLASSES, SIZE, SIZE)
    predicted = scores.argmax(1)
    background = float((test[1] == 0).mean())
    accuracy = float((predicted == test[1]).mean())
    miou = datasets.mean_iou(predicted, test[1], CLASSES)
    print(f"background {background:.3f}, pixel accuracy {accuracy:.3f}, mIoU {miou:.3f}")
    assert accuracy > background + 0.02 and miou > 0.1
    program = qat_mlir.compile(trainer)
    assert program.quantized
    assert np.array_equal(program(test[0]), scores)


def test_regression_targets(segmentation):
    """smooth_l1 against float targets (the scenes themselves, a denoising
    target) given as an input named `labels` (the name of a classifier's
    labels, which must not confuse the trainer): the loss falls from its FP
    epoch."""
    images = segmentation["train"][0][:512]
    targets = images.astype(np.float32) / 255.0

    class Denoise(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = Net(outputs=1)

        def forward(self, x, labels):
            out = self.net(x)
            return F.smooth_l1_loss(out, labels, beta=0.1), out

    torch.manual_seed(0)
    model = Denoise()
    module = qat_mlir.import_module(model, (torch.zeros(BATCH, 1, SIZE, SIZE),
                                            torch.zeros(BATCH, 1, SIZE, SIZE)))
    trainer = qat_mlir.Trainer(module, **dict(OPTIONS, lr=0.02))
    history = trainer.fit((images, targets), epochs=1, progress=False)
    assert history[-1]["loss"] < history[0]["loss"], history
    with pytest.raises(ValueError, match=r"targets 'labels' must be a float32 array of shape"):
        trainer.step(images[:BATCH], np.zeros((BATCH, SIZE, SIZE), np.float32))
    with pytest.raises(ValueError, match=r"the model takes 1 target input\(s\), got 2"):
        trainer.step(images[:BATCH], (targets[:BATCH], targets[:BATCH]))


def test_tools_refuse_what_they_cannot_do(segmentation, tmp_path):
    path = tmp_path / "segmentation.mlir"
    segmentation["module"].save(path)
    done = subprocess.run([qat_mlir.find_tool("qat-train"), str(path), "-o",
                           str(tmp_path / "out.mlir")], capture_output=True, text=True)
    assert done.returncode == 1 and "train it from Python" in done.stderr
    assert not (tmp_path / "out.mlir").exists()
    torch.manual_seed(0)

    class OnlyLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = Net()

        def forward(self, x, y):
            return F.cross_entropy(self.net(x), y)

    module = qat_mlir.import_module(OnlyLoss(), (torch.zeros(BATCH, 1, SIZE, SIZE),
                                                 torch.zeros(BATCH, SIZE, SIZE, dtype=torch.long)))
    with pytest.raises(qat_mlir.QatError, match="returns only its loss: there is no output"):
        qat_mlir.compile(module)
