"""IDX data sets (MNIST, Fashion-MNIST) as NumPy arrays."""

import gzip
import os

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

# Per-pixel mean and standard deviation of the Fashion-MNIST training images
# scaled to [0, 1].
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    rank = data[3]
    header = 4 + 4 * rank
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank))
    count = int(np.prod(shape)) if shape else 1
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(f"{path}: holds {len(data) - header} data bytes, "
                         f"its header promises {count * dtype.itemsize}")
    return np.frombuffer(data, dtype, count, header).reshape(shape).astype(dtype.newbyteorder("="))


def fashion_mnist(split, root=FASHION_MNIST_DIR):
    """(images uint8 [N, 28, 28], labels uint8 [N]) of 'train' or 'test'."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
    return images, labels


def normalize(images):
    """uint8 images to float32, scaled to [0, 1] and standardized."""
    x = images.astype(np.float32) / np.float32(255)
    return (x - np.float32(FASHION_MNIST_MEAN)) / np.float32(FASHION_MNIST_STD)


SHAPE_CLASSES = ("square", "disk", "ring", "plus", "cross", "triangle")


def synthetic_shapes(count, seed, size=32):
    """A deterministic colour image set of SHAPE_CLASSES: (images uint8
    [count, 3, size, size], labels int64 [count]). Each image is one shape of
    its class, at a random position, size and colour, on uniform noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPE_CLASSES), count).astype(np.int64)
    images = rng.uniform(0, 90, (count, 3, size, size))
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    for i, label in enumerate(labels):
        r = rng.uniform(0.16, 0.28) * size
        cx, cy = rng.uniform(r + 1, size - r - 1, 2)
        dx, dy = x - cx, y - cy
        inside = (np.abs(dx) <= r) & (np.abs(dy) <= r)
        distance = np.hypot(dx, dy)
        mask = {
            "square": inside,
            "disk": distance <= r,
            "ring": (distance <= r) & (distance >= r - 2.5),
            "plus": inside & ((np.abs(dx) <= 1.5) | (np.abs(dy) <= 1.5)),
            "cross": inside & ((np.abs(dx - dy) <= 1.5) | (np.abs(dx + dy) <= 1.5)),
            "triangle": inside & (np.abs(dx) <= (dy + r) / 2),
        }[SHAPE_CLASSES[label]]
        colour = rng.uniform(90, 165, 3)
        images[i] += mask[None] * colour[:, None, None]
    return np.clip(images, 0, 255).astype(np.uint8), labels
