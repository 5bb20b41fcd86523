"""Data-parallel training from Python (distributed.test).

`prepare OUT` (one process) writes the model, imported for 16 images per
rank, and the shapes data set as an .npz. `fit OUT` (under mpirun) trains it
with Trainer(distributed=True, check_replicas=True) on 1 FP warm-up and 2
QAT epochs, and rank 0 saves OUT/python.mlir: the same bytes as
`mpirun qat-train --distributed` on the .npz (checked by the test).
"""

import sys

import numpy as np
import torch
from torch import nn

import qat_mlir
from qat_mlir import datasets

SHARE = 16  # images per rank and step
mode, out = sys.argv[1], sys.argv[2]
train = datasets.synthetic_shapes(1024, seed=1)
test = datasets.synthetic_shapes(256, seed=2)

if mode == "prepare":
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 6)).train()
    qat_mlir.import_module(model, torch.zeros(SHARE, 3, 32, 32)).save(f"{out}/module.mlir")
    np.savez(f"{out}/shapes.npz", train_images=train[0], train_labels=train[1],
             test_images=test[0], test_labels=test[1])
    sys.exit(0)

trainer = qat_mlir.Trainer(qat_mlir.Module.load(f"{out}/module.mlir"), qconfig="per-tensor",
                           stat_assist_epochs=1, grad_boost=True, lr=0.05, seed=3, threads=1,
                           distributed=True, check_replicas=True,
                           cache_dir=f"{out}/cache")
history = trainer.fit(train, epochs=2, validation_data=test, progress=False)
trainer.save(f"{out}/python.mlir")
# Every rank holds the same history (global losses and counts).
if trainer.rank == 0:
    print(f"{trainer.ranks} ranks, {trainer.batch_size} images each per step")
    for record in history:
        print(f"epoch {record['epoch']} ({record['phase']}): loss {record['loss']:.4f}, "
              f"accuracy {record['accuracy']:.2f}%, validation {record['val_accuracy']:.2f}%")
    final = history[-1]["val_accuracy"]
    print(f"validation accuracy {final:.2f}% " +
          ("(at least 85%)" if final >= 85 else "BELOW 85%"))
