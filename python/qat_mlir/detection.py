"""Object detection: an anchor-free single-scale detector's targets and
decoding, and the mean average precision (mAP) that scores it.

The detector (models.DetectionNet) predicts on a grid of cells, one cell per
`stride` x `stride` pixels of the input. Its output is N x (C + 4) x H x W:
for each cell, C class logits (sigmoid scores: an object of class c has its
box centre in this cell) and 4 box values (dx, dy, log(w / stride),
log(h / stride)): the centre at ((x + dx) * stride, (y + dy) * stride) for
the cell in column x and row y. The targets of a batch have that same
layout (`encode`): one-hot classes at each box's centre cell, zeros
elsewhere, and the centre cell's box values; `models.DetectionLoss` scores
the outputs against them. `decode` turns outputs into boxes, and
`mean_average_precision` scores boxes against the true ones.

Boxes are (x0, y0, x1, y1) in input pixels, x1 and y1 exclusive (a box of
one pixel at (3, 5) is (3, 5, 4, 6)).
"""

import math

import numpy as np
import torch
import torchvision

MAX_LOG_SIZE = math.log(1000.0 / 16)


def box_iou(a, b):
    """Intersection over union of each box of `a` (K x 4) with each of `b`
    (M x 4): a K x M array."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) -
                    np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) -
                     np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    intersection = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


def encode(boxes, labels, classes, grid, stride):
    """Targets (float32 N x (classes + 4) x grid x grid) of true boxes
    (N x K x 4) and labels (N x K, -1 for none). Each box is assigned to
    the cell that holds its centre; where two boxes' centres share a cell,
    the later one's values are kept there (the earlier one has no target,
    as in single-scale anchor-free detectors such as CenterNet)."""
    boxes, labels = np.asarray(boxes, np.float64), np.asarray(labels)
    targets = np.zeros((len(labels), classes + 4, grid, grid), np.float32)
    for i, k in zip(*np.nonzero(labels >= 0)):
        x0, y0, x1, y1 = boxes[i, k]
        cx, cy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride
        column, row = min(int(cx), grid - 1), min(int(cy), grid - 1)
        targets[i, :, row, column] = 0.0
        targets[i, int(labels[i, k]), row, column] = 1.0
        targets[i, classes:, row, column] = (cx - column, cy - row,
                                             np.log((x1 - x0) / stride),
                                             np.log((y1 - y0) / stride))
    return targets


def decode(outputs, classes, stride, score_threshold=0.05, iou_threshold=0.5,
           max_detections=20):
    """Detections of outputs (N x (classes + 4) x H x W): for each image, a
    tuple (boxes K x 4, scores K, labels K), best first. Each cell proposes
    its best class with score sigmoid(logit); proposals scoring at least
    `score_threshold` go through non-maximum suppression per class
    (torchvision.ops.batched_nms: a box is dropped where it overlaps a
    better one of its class with IoU above `iou_threshold`), and the best
    `max_detections` remain."""
    outputs = torch.as_tensor(np.asarray(outputs, np.float32))
    _, _, height, width = outputs.shape
    rows, columns = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                                   torch.arange(width, dtype=torch.float32), indexing="ij")
    detections = []
    for output in outputs:
        scores, labels = torch.sigmoid(output[:classes]).max(0)
        dx, dy, log_w, log_h = output[classes:classes + 4]
        cx, cy = (columns + dx) * stride, (rows + dy) * stride
        # The sizes' exponents are capped as torchvision's box coders cap
        # theirs (log(1000 / 16)), so that a wild output gives a large box,
        # not an infinite one.
        w = torch.exp(log_w.clamp(max=MAX_LOG_SIZE)) * stride
        h = torch.exp(log_h.clamp(max=MAX_LOG_SIZE)) * stride
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
        keep = scores.flatten() >= score_threshold
        boxes, scores, labels = boxes.reshape(-1, 4)[keep], scores.flatten()[keep], \
            labels.flatten()[keep]
        kept = torchvision.ops.batched_nms(boxes, scores, labels, iou_threshold)
        kept = kept[:max_detections]
        detections.append((boxes[kept].numpy(), scores[kept].numpy(), labels[kept].numpy()))
    return detections


def average_precision(recall, precision):
    """The area under a precision-recall curve with precision made
    monotonically decreasing (each point takes the best precision at its
    recall or higher): PASCAL VOC's all-point interpolation (2010 on), as
    COCO also does before sampling it at 101 recalls."""
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def mean_average_precision(detections, true_boxes, true_labels, classes, iou_threshold=0.5):
    """Mean average precision at one IoU threshold (mAP@0.5 by default) and
    the average precision of each class (NaN for a class with no true box,
    which the mean leaves out, as VOC and COCO do).

    detections: per image (boxes K x 4, scores K, labels K), as `decode`
    gives. true_boxes, true_labels: N x M x 4 and N x M (-1 for none).
    Per class, detections of all images are taken best score first (ties
    in the order given); each is a true positive where the true box of its
    image and class that it overlaps most has IoU at least `iou_threshold`
    and no better detection matched it yet, else a false positive (PASCAL
    VOC's rule: a second detection of a box is false even where it also
    overlaps another). Precision and recall along that order give the
    class's `average_precision`."""
    true_boxes, true_labels = np.asarray(true_boxes), np.asarray(true_labels)
    if len(detections) != len(true_labels):
        raise ValueError(f"{len(detections)} images of detections for "
                         f"{len(true_labels)} images of true boxes")
    per_class = np.full(classes, np.nan)
    for c in range(classes):
        truth = [true_boxes[i][true_labels[i] == c] for i in range(len(true_labels))]
        total = sum(len(t) for t in truth)
        if total == 0:
            continue
        found = [(float(score), i, box) for i, (boxes, scores, labels) in enumerate(detections)
                 for box, score, label in zip(boxes, scores, labels) if label == c]
        found.sort(key=lambda d: -d[0])  # stable: ties keep their order
        matched = [np.zeros(len(t), bool) for t in truth]
        hits = np.zeros(len(found), bool)
        for n, (_, i, box) in enumerate(found):
            if len(truth[i]) == 0:
                continue
            overlaps = box_iou(box, truth[i])[0]
            best = int(overlaps.argmax())
            if overlaps[best] >= iou_threshold and not matched[i][best]:
                matched[i][best] = hits[n] = True
        true_positives = np.cumsum(hits)
        precision = true_positives / np.arange(1, len(found) + 1)
        per_class[c] = average_precision(true_positives / total, precision) if found else 0.0
    present = ~np.isnan(per_class)
    return (float(per_class[present].mean()) if present.any() else float("nan")), per_class
