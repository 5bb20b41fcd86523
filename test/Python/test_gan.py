"""Adversarial training (qat_mlir.gan): a Pix2Pix U-Net generator and a
PatchGAN discriminator trained in alternation, each QAT from scratch with
StatAssist and GradBoost (QAdam), on outline -> item pairs made from
Fashion-MNIST; the generator deployed int8.

- The discriminator is one network in two Trainers: the generator's step
  reads it (copied in before the step) and never changes its weights; the
  discriminator's own step updates them.
- The frozen copy takes no gradient and no optimizer state.
- Training lowers the generator's held-out L1 below the untrained one's.
- The generator's int8 program equals the trained generator on every
  held-out pair (per-channel weights: the transposed convolutions' along
  their weights' axis 1, with batch norm folded along it).
- set_state refuses an unknown name and a wrong shape or dtype.
"""

import numpy as np
import pytest
import torch

import qat_mlir
from qat_mlir import datasets, gan, models

BATCH, SHAPE = 16, (1, 32, 32)
WEIGHT = "discriminator.net.0.weight"


@pytest.fixture(scope="module")
def pix2pix():
    train = datasets.fashion_outlines("train", 512, seed=1)
    test = datasets.fashion_outlines("test", 64, seed=2)
    torch.manual_seed(0)
    trainer = gan.Pix2PixTrainer(models.UNetGenerator(width=8), models.PatchDiscriminator(width=8),
                                 BATCH, SHAPE, lr=1e-3, qconfig="per-channel",
                                 stat_assist_epochs=1, grad_boost=True, seed=3, threads=2)
    untrained = trainer.generate(test[0])
    history = trainer.fit(train, epochs=1)
    return dict(train=train, test=test, trainer=trainer, untrained=untrained, history=history)


def test_discriminator_is_shared_and_frozen_in_the_generator(pix2pix):
    trainer, (inputs, targets) = pix2pix["trainer"], pix2pix["train"]
    generator_state = trainer.generator.state_dict()
    assert not any(name.endswith("." + WEIGHT) for name in generator_state), \
        "the frozen discriminator has optimizer state in the generator's Trainer"
    assert any(name.startswith("adam.") and name.endswith("generator.up1.weight")
               for name in generator_state)
    before = trainer.discriminator.state_dict()[WEIGHT].clone()
    trainer.step(inputs[:BATCH], targets[:BATCH])
    # The generator's step ran on the discriminator as it was, unchanged;
    # the discriminator's own step then moved it.
    assert torch.equal(trainer.generator.state_dict()[WEIGHT], before)
    assert not torch.equal(trainer.discriminator.state_dict()[WEIGHT], before)
    for name in trainer._observers:
        assert name.startswith("discriminator.")
    assert any(".input_post_process." in name for name in trainer._observers)


def test_generator_learns_and_int8_equals_trained(pix2pix):
    trainer, test, history = pix2pix["trainer"], pix2pix["test"], pix2pix["history"]
    assert [h["phase"] for h in history] == ["fp_warmup", "qat"]
    images = trainer.generate(test[0])
    l1 = float(np.abs(images - test[1]).mean())
    untrained = float(np.abs(pix2pix["untrained"] - test[1]).mean())
    print(f"held-out L1 {untrained:.3f} -> {l1:.3f}, PSNR {datasets.psnr(images, test[1]):.2f} dB")
    assert l1 < 0.8 * untrained
    program = qat_mlir.compile(trainer.generator)
    assert program.quantized and program.output_shape[1:] == SHAPE
    assert np.array_equal(program(test[0]), images)


def test_set_state_errors(pix2pix):
    trainer = pix2pix["trainer"].discriminator
    with pytest.raises(KeyError, match="no training state is named 'nonexistent'"):
        trainer.set_state({"nonexistent": np.zeros(1, np.float32)})
    with pytest.raises(qat_mlir.QatError, match=f"state '{WEIGHT}' is <f4 \\[8x2x4x4\\], not "):
        trainer.set_state({WEIGHT: np.zeros((2, 2), np.float32)})
    with pytest.raises(ValueError, match=f"state '{WEIGHT}' holds float32, not float64"):
        trainer.set_state({WEIGHT: np.zeros((8, 2, 4, 4))})
