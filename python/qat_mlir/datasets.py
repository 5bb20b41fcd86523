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


def fashion_scenes(split, count, seed, size=48, items=3, root=FASHION_MNIST_DIR):
    """A deterministic semantic-segmentation set made from Fashion-MNIST:
    (images uint8 [count, 1, size, size], masks int64 [count, size, size]).

    Each scene places `items` Fashion-MNIST images of `split` (chosen by the
    seed) at random positions on a dark canvas with faint noise; a later item
    covers an earlier one where they overlap. A pixel's class is 0 for the
    background, or 1 + the Fashion-MNIST class of the item it shows where
    that item's pixel is brighter than 32 of 255 (its garment, not the
    black border of its 28 x 28 image)."""
    if size < 28:
        raise ValueError(f"size must be at least 28 (one item), not {size}")
    images, labels = fashion_mnist(split, root)
    rng = np.random.default_rng(seed)
    scenes = rng.integers(0, 24, (count, 1, size, size)).astype(np.uint8)
    masks = np.zeros((count, size, size), np.int64)
    for i in range(count):
        for _ in range(items):
            pick = rng.integers(0, len(images))
            row, col = rng.integers(0, size - 28 + 1, 2)
            item = images[pick]
            shown = item > 32
            window = (slice(row, row + 28), slice(col, col + 28))
            scenes[i, 0][window] = np.where(shown, item, scenes[i, 0][window])
            masks[i][window] = np.where(shown, 1 + int(labels[pick]), masks[i][window])
    return scenes, masks


def fashion_detection(split, count, seed, size=64, max_items=3, root=FASHION_MNIST_DIR):
    """A deterministic object-detection set made from Fashion-MNIST:
    (images uint8 [count, 1, size, size], boxes float32 [count, max_items,
    4], labels int64 [count, max_items]).

    Each scene places 1 to `max_items` Fashion-MNIST images of `split`
    (count and choice by the seed) on a dark canvas with faint noise, at
    random positions where their 28 x 28 windows do not overlap (an item
    that finds no free place in 100 tries is left out). An item's box is
    the tight box (x0, y0, x1, y1; x1, y1 exclusive) of its pixels brighter
    than 32 of 255, its garment; its label is its Fashion-MNIST class.
    Unused rows of `boxes` are 0 and of `labels` -1."""
    if size < 28:
        raise ValueError(f"size must be at least 28 (one item), not {size}")
    images, classes = fashion_mnist(split, root)
    rng = np.random.default_rng(seed)
    scenes = rng.integers(0, 24, (count, 1, size, size)).astype(np.uint8)
    boxes = np.zeros((count, max_items, 4), np.float32)
    labels = np.full((count, max_items), -1, np.int64)
    for i in range(count):
        taken = []
        for k in range(int(rng.integers(1, max_items + 1))):
            pick = rng.integers(0, len(images))
            if not (images[pick] > 32).any():
                continue
            for _ in range(100):
                row, col = (int(v) for v in rng.integers(0, size - 28 + 1, 2))
                if all(abs(row - r) >= 28 or abs(col - c) >= 28 for r, c in taken):
                    break
            else:
                continue
            taken.append((row, col))
            item = images[pick]
            shown = item > 32
            window = (slice(row, row + 28), slice(col, col + 28))
            scenes[i, 0][window] = np.where(shown, item, scenes[i, 0][window])
            rows, cols = np.nonzero(shown)
            boxes[i, k] = (col + cols.min(), row + rows.min(), col + cols.max() + 1,
                           row + rows.max() + 1)
            labels[i, k] = int(classes[pick])
    return scenes, boxes, labels


def mean_iou(predicted, masks, classes):
    """Mean intersection over union of predicted and true class maps, over
    the classes present in either (PyTorch/torchvision's segmentation
    reference computes it the same way from its confusion matrix)."""
    predicted, masks = np.asarray(predicted).ravel(), np.asarray(masks).ravel()
    confusion = np.bincount(masks * classes + predicted,
                            minlength=classes * classes).reshape(classes, classes)
    intersection = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    present = union > 0
    return float((intersection[present] / union[present]).mean())


def fashion_outlines(split, count, seed, root=FASHION_MNIST_DIR):
    """A deterministic image-to-image set made from Fashion-MNIST, outline ->
    item: (outlines, items), float32 [count, 1, 32, 32] in [-1, 1].

    Items are Fashion-MNIST images of `split` (chosen by the seed) on a
    32 x 32 canvas. An outline is the item's silhouette edge (pixels
    brighter than 32 of 255 with a darker 4-neighbour, or on the canvas
    edge of the silhouette), white on black: the generator must fill in the
    garment's shading and texture."""
    images, _ = fashion_mnist(split, root)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(images), count, replace=False)
    items = np.zeros((count, 1, 32, 32), np.float32)
    items[:, 0, 2:30, 2:30] = images[picks].astype(np.float32) / 255.0
    shown = items > 32.0 / 255.0
    inner = shown.copy()
    inner[..., 1:, :] &= shown[..., :-1, :]
    inner[..., :-1, :] &= shown[..., 1:, :]
    inner[..., :, 1:] &= shown[..., :, :-1]
    inner[..., :, :-1] &= shown[..., :, 1:]
    outlines = (shown & ~inner).astype(np.float32)
    return outlines * 2.0 - 1.0, items * 2.0 - 1.0


def psnr(predicted, targets, data_range=2.0):
    """Peak signal-to-noise ratio in dB of images in a range of width
    `data_range` (2 for [-1, 1]), from the mean squared error over all."""
    error = np.mean((np.asarray(predicted, np.float64) - np.asarray(targets, np.float64)) ** 2)
    return float(10.0 * np.log10(data_range ** 2 / max(error, 1e-30)))
