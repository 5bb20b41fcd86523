"""Adversarial training of an image-to-image generator (Pix2Pix) with QAT
from scratch: the generator and its discriminator are two networks with
their own optimizers, trained in alternation, each quantization-aware with
StatAssist and GradBoost.

Each network trains in its own `Trainer`, from a model whose forward
returns its loss:

- `DiscriminatorLoss`: the discriminator on real pairs (input, target) and
  generated pairs (input, generated), binary cross-entropy against 1 and 0
  (halved, as Pix2Pix does).
- `GeneratorLoss`: the generator, then a frozen copy of the discriminator
  (parameters with requires_grad off: quantized as the discriminator is,
  differentiated through, never updated) on (input, generated) against 1,
  plus l1_weight times the L1 distance to the target.

`Pix2PixTrainer` alternates one step of each per batch. The discriminator
is one network: before the generator's step, its whole state (weights,
normalization, fake-quantization observers) is copied into the
generator's model; after it, the observers come back, since that forward
observed the discriminator's activations as PyTorch's would. The
generator steps first; the discriminator then learns from the images the
generator made in that step (its training-mode forward before the update),
so the generator's step uses the discriminator of the previous batch.
"""

import copy
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qat_mlir import api

SHARED_PREFIX = "discriminator."


class DiscriminatorLoss(nn.Module):
    """forward(inputs, targets, generated) -> (loss, logits): real and
    generated pairs in one batch of twice the size."""

    def __init__(self, discriminator):
        super().__init__()
        self.discriminator = discriminator

    def forward(self, inputs, targets, generated):
        pairs = torch.cat([torch.cat([inputs, targets], 1), torch.cat([inputs, generated], 1)], 0)
        logits = self.discriminator(pairs)
        count = inputs.shape[0]
        real, fake = logits[:count], logits[count:]
        loss = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) +
                      F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        return loss, logits


class GeneratorLoss(nn.Module):
    """forward(inputs, targets) -> (loss, generated): the adversarial loss
    through a frozen copy of `discriminator` plus l1_weight x L1."""

    def __init__(self, generator, discriminator, l1_weight=100.0):
        super().__init__()
        self.generator = generator
        self.discriminator = copy.deepcopy(discriminator).requires_grad_(False)
        self.l1_weight = l1_weight

    def forward(self, inputs, targets):
        generated = self.generator(inputs)
        logits = self.discriminator(torch.cat([inputs, generated], 1))
        loss = (F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)) +
                self.l1_weight * F.l1_loss(generated, targets))
        return loss, generated


class Pix2PixTrainer:
    """Trains `generator` and `discriminator` (PyTorch modules, random
    initialization) in alternation on (inputs, targets) image pairs.

    batch_size, image_shape: the batches (C x H x W images). Every other
    keyword goes to both Trainers (qconfig, stat_assist_epochs, grad_boost,
    seed, threads, ...); the defaults are the method's settings for
    Pix2Pix generators: QAdam (Adam, betas (0.5, 0.999) as Pix2Pix) at lr
    2e-4 with GradBoost's clip 1e-3. The discriminator's seed is seed + 1.
    """

    def __init__(self, generator, discriminator, batch_size, image_shape, l1_weight=100.0,
                 **options):
        options = dict(dict(optimizer="adam", lr=2e-4, betas=(0.5, 0.999),
                            grad_boost_clip=1e-3, weight_decay_conv=0.0,
                            weight_decay_depthwise=0.0, weight_decay_other=0.0), **options)
        example = torch.zeros(batch_size, *image_shape)
        self.generator = api.Trainer(
            api.import_module(GeneratorLoss(generator, discriminator, l1_weight),
                              (example, example)), **options)
        seed = options.get("seed", 0)
        self.discriminator = api.Trainer(
            api.import_module(DiscriminatorLoss(discriminator), (example, example, example)),
            **dict(options, seed=seed + 1))
        generator_state = self.generator._session.state()
        self._shared = [name for name, array in self.discriminator._session.state().items()
                        if name.startswith(SHARED_PREFIX) and name in generator_state and
                        generator_state[name].shape == array.shape]
        self._observers = [name for name in self._shared
                           if name.rsplit(".", 1)[-1] in ("min_val", "max_val", "scale",
                                                          "zero_point")]
        self.batch_size = batch_size
        self.epoch = 0
        self.history = []

    def _copy(self, source, destination, names):
        state = source._session.state()
        for name in names:
            destination._session.set_state(name, state[name])

    def step(self, inputs, targets, lr=None):
        """One generator step, then one discriminator step on the images
        it generated; returns (generator loss, discriminator loss)."""
        for trainer in (self.generator, self.discriminator):
            trainer.epoch = self.epoch
        self._copy(self.discriminator, self.generator, self._shared)
        generator_loss = self.generator.step(inputs, targets, lr)
        self._copy(self.generator, self.discriminator, self._observers)
        generated = self.generator.last_logits()
        discriminator_loss = self.discriminator.step(inputs, (targets, generated), lr)
        return generator_loss, discriminator_loss

    def fit(self, data, epochs):
        """stat_assist_epochs + epochs epochs over (inputs, targets), both
        float32 N x C x H x W, shuffled per epoch by the seed (the last
        partial batch dropped), at the Trainers' learning rate with
        qat-train's schedule per phase. Returns the history."""
        inputs, targets = (np.ascontiguousarray(a, np.float32) for a in data)
        warmup = self.generator.stat_assist_epochs
        total = warmup + int(epochs)
        steps = len(inputs) // self.batch_size
        if steps == 0:
            raise ValueError(f"no batch of {self.batch_size} pairs in the data")
        for epoch in range(self.epoch, total):
            self.epoch = epoch
            fp = epoch < warmup
            phase_steps = steps * (warmup if fp else int(epochs))
            phase_start = 0 if fp else warmup
            warmup_steps = min(phase_steps, round(self.generator.lr_warmup_epochs * steps))
            order = api._native.epoch_order(self.generator.seed, epoch, len(inputs))
            started = time.perf_counter()
            sums = np.zeros(2)
            for step in range(steps):
                batch = order[step * self.batch_size:(step + 1) * self.batch_size]
                lr = api._native.learning_rate_at((epoch - phase_start) * steps + step,
                                                  phase_steps, warmup_steps, self.generator.lr)
                losses = self.step(inputs[batch], targets[batch], lr)
                if not all(math.isfinite(loss) for loss in losses):
                    raise api.QatError(f"training diverged at epoch {epoch + 1}: {losses}")
                sums += losses
            self.history.append({"epoch": epoch + 1, "phase": self.generator.phase,
                                 "generator_loss": sums[0] / steps,
                                 "discriminator_loss": sums[1] / steps,
                                 "seconds": time.perf_counter() - started})
        self.epoch = total
        for trainer in (self.generator, self.discriminator):
            trainer.epoch = total
        return self.history

    def generate(self, inputs):
        """The trained generator's images (evaluation mode: fake
        quantization as deployed, batch norm's running statistics)."""
        return self.generator.predict(inputs)
