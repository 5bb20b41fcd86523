"""What the task experiments share: the PyTorch eager peer's training loop
(the Trainer's batch order and learning-rate schedule, so that the peer
sees the same batches at the same rates) and the tables' mean ± std."""

import statistics
import time

import numpy as np
import torch

from qat_mlir import _qat_mlir as native


def train_sgd(model_loss, optimizer, count, batch, epochs, seed, lr):
    """Trains `epochs` epochs of count // batch steps: each step takes the
    rows the Trainer's epoch_order(seed, epoch) gives, sets the Trainer's
    learning_rate_at (one epoch of linear warm-up, then cosine decay to
    `lr`'s end) and steps on model_loss(rows). Returns the seconds taken."""
    steps = count // batch
    total, warmup = steps * epochs, steps
    started = time.perf_counter()
    for epoch in range(epochs):
        order = native.epoch_order(seed, epoch, count)
        for step in range(steps):
            rows = torch.from_numpy(np.asarray(order[step * batch:(step + 1) * batch]))
            for group in optimizer.param_groups:
                group["lr"] = native.learning_rate_at(epoch * steps + step, total, warmup, lr)
            optimizer.zero_grad()
            model_loss(rows).backward()
            optimizer.step()
    return time.perf_counter() - started


def spread(values):
    """mean ± sample standard deviation, or the mean of a single value."""
    mean = statistics.mean(values)
    return f"{mean:.2f}" + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")
