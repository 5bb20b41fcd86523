#!/usr/bin/env python3
"""The modelled scaling of data-parallel training (docs/distributed.md).

Per step, each of N machines computes its 64 images, then the replicas
all-reduce. The all-reduce is qat-mlir's: one collective per reduced tensor
(gradients, observer ranges, batch-norm statistics), each a reduce-scatter
(MPI_Alltoallv) plus an all-gather (MPI_Allgatherv) over equal shares:

  bytes per machine   2 (N - 1) / N * S         (S: the tensor's bytes)
  messages per tensor 2 (N - 1)                  (pairwise, no tree)
  time                sum over tensors of 2 (N - 1) * alpha + bytes / bandwidth

with alpha = 20 us per message (TCP over Ethernet). Compute time per step
comes from the small CNN's training rate measured on this machine
(benchmarks/distributed-scaling.py), scaled by forward multiply-adds for
MobileNetV2-224 (an estimate: its depthwise layers run less efficiently).

Usage: python3 benchmarks/distributed-model.py [--images-per-second 2025]
"""

import argparse

SMALL_CNN_MACS = 1.03e6          # forward multiply-adds per 28 x 28 image
MOBILENET_MACS = 300e6           # torchvision MobileNetV2, 224 x 224
MOBILENET_PARAMS = 3.505e6       # 14.0 MB of f32 gradients
MOBILENET_TENSORS = 158 + 2 * 104 + 2 * 52   # parameters, observer ranges, BN statistics
ALPHA = 20e-6
BATCH_PER_MACHINE = 64


def step_seconds(machines, compute, link_gbps):
    bandwidth = link_gbps * 1e9 / 8
    if machines == 1:
        return compute, 0.0
    gradient_bytes = 4 * MOBILENET_PARAMS
    transfer = 2 * (machines - 1) / machines * gradient_bytes / bandwidth
    latency = MOBILENET_TENSORS * 2 * (machines - 1) * ALPHA
    return compute, transfer + latency


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images-per-second", type=float, default=2025.0,
                        help="small CNN training rate on one core (measured)")
    parser.add_argument("--cores", type=int, default=2, help="cores per machine")
    args = parser.parse_args()
    per_image = 1.0 / args.images_per_second * MOBILENET_MACS / SMALL_CNN_MACS
    compute = BATCH_PER_MACHINE * per_image / args.cores
    print(f"MobileNetV2-224, {BATCH_PER_MACHINE} images per machine and step, "
          f"{args.cores} cores per machine: compute {compute:.2f} s per step "
          f"(estimated); {4 * MOBILENET_PARAMS / 1e6:.1f} MB of gradients, "
          f"{MOBILENET_TENSORS} reductions per step")
    for label, scale in (("this machine's cores", 1.0), ("cores 100x faster", 0.01)):
        print(f"\n{label}: compute {compute * scale * 1000:.0f} ms per step")
        print("| machines | 10 Gb/s | 25 Gb/s | 100 Gb/s |")
        print("|---|---|---|---|")
        for machines in (2, 4, 8, 16, 32, 64):
            cells = []
            for gbps in (10, 25, 100):
                c, r = step_seconds(machines, compute * scale, gbps)
                cells.append(f"{100 * c / (c + r):.0f}% ({r * 1000:.0f} ms)")
            print(f"| {machines} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
