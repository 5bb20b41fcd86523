"""Object detection (qat_mlir.detection, models.DetectionNet/DetectionLoss,
datasets.fashion_detection).

- mean_average_precision against hand-made cases whose average precision
  is worked out by hand in each test (matching, duplicates, the IoU
  threshold's edge, a class without detections, a class without true
  boxes, the interpolation of precision).
- encode and decode are inverses: targets turned into logits decode to the
  true boxes, and score mAP 1.
- The scenes' boxes are the tight boxes of their garments.
- DetectionLoss equals the focal and smooth L1 losses written out with
  torchvision's sigmoid_focal_loss.
- docs/detection.md's example runs as written: a DetectionNet trained QAT
  from scratch (StatAssist, GradBoost) for a few epochs finds items
  (mAP@0.5 above 0.3; untrained it is 0), its int8 program equals the
  trained model on every test scene, with no op in float.
"""

import os
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from qat_mlir import datasets, detection, models

CLASSES, SIZE, STRIDE = 10, 64, 8
GRID = SIZE // STRIDE


def found(*rows):
    """Detections of one image from (x0, y0, x1, y1, score, label) rows."""
    rows = np.asarray(rows, np.float64).reshape(-1, 6)
    return rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64)


def truth(*images):
    """(boxes, labels) padded to the most boxes of an image, from per-image
    lists of (x0, y0, x1, y1, label)."""
    most = max(1, max(len(boxes) for boxes in images))
    boxes = np.zeros((len(images), most, 4))
    labels = np.full((len(images), most), -1)
    for i, rows in enumerate(images):
        for k, row in enumerate(rows):
            boxes[i, k], labels[i, k] = row[:4], row[4]
    return boxes, labels


def test_perfect_detections_score_one():
    boxes, labels = truth([(0, 0, 10, 10, 1), (20, 20, 30, 40, 2)], [(5, 5, 15, 15, 1)])
    detections = [found((0, 0, 10, 10, 0.9, 1), (20, 20, 30, 40, 0.8, 2)),
                  found((5, 5, 15, 15, 0.7, 1))]
    mean, per_class = detection.mean_average_precision(detections, boxes, labels, 3)
    assert mean == 1.0
    assert np.isnan(per_class[0]) and per_class[1] == per_class[2] == 1.0


def test_false_positive_between_true_ones():
    # Class 0, 2 true boxes. Best first: hit (P 1, R 1/2), miss (P 1/2),
    # hit (P 2/3, R 1). Interpolated: R 0..1/2 at P 1, 1/2..1 at P 2/3.
    boxes, labels = truth([(0, 0, 10, 10, 0), (30, 30, 40, 40, 0)])
    detections = [found((0, 0, 10, 10, 0.9, 0), (50, 50, 60, 60, 0.8, 0),
                        (30, 30, 40, 40, 0.7, 0))]
    mean, _ = detection.mean_average_precision(detections, boxes, labels, 1)
    assert mean == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_interpolation_takes_the_best_precision_at_higher_recall():
    # Class 0, 3 true boxes. Best first: miss, hit, hit, hit: precision
    # 0, 1/2, 2/3, 3/4 at recall 0, 1/3, 2/3, 1. Each recall step takes the
    # best precision at its recall or beyond: 3/4 for all three.
    boxes, labels = truth([(0, 0, 10, 10, 0), (20, 0, 30, 10, 0), (40, 0, 50, 10, 0)])
    detections = [found((0, 40, 10, 50, 0.9, 0), (0, 0, 10, 10, 0.8, 0),
                        (20, 0, 30, 10, 0.7, 0), (40, 0, 50, 10, 0.6, 0))]
    mean, _ = detection.mean_average_precision(detections, boxes, labels, 1)
    assert mean == pytest.approx(0.75)


def test_duplicate_detection_is_false_and_missed_box_lowers_recall():
    # Class 0, 2 true boxes; both detections hit the first: hit (P 1,
    # R 1/2), duplicate = miss. Recall never reaches 1: AP 1/2.
    boxes, labels = truth([(0, 0, 10, 10, 0), (30, 30, 40, 40, 0)])
    detections = [found((0, 0, 10, 10, 0.9, 0), (1, 0, 11, 10, 0.8, 0))]
    mean, _ = detection.mean_average_precision(detections, boxes, labels, 1)
    assert mean == pytest.approx(0.5)


def test_iou_threshold_is_inclusive():
    # The box (0, 0, 10, 10) against (0, 0, 10, 20): IoU 100 / 200 = 0.5 exactly,
    # a hit at 0.5; (0, 0, 10, 21): IoU 100 / 210 < 0.5, a miss.
    boxes, labels = truth([(0, 0, 10, 20, 0)])
    assert detection.box_iou([0, 0, 10, 10], [[0, 0, 10, 20]])[0, 0] == 0.5
    hit = [found((0, 0, 10, 10, 0.9, 0))]
    assert detection.mean_average_precision(hit, boxes, labels, 1)[0] == 1.0
    boxes, labels = truth([(0, 0, 10, 21, 0)])
    assert detection.mean_average_precision(hit, boxes, labels, 1)[0] == 0.0
    assert detection.mean_average_precision(hit, boxes, labels, 1, iou_threshold=0.45)[0] == 1.0


def test_classes_images_and_missing_classes():
    # Class 0: its only detection is in the wrong image (a miss): AP 0.
    # Class 2 has a detection but no true box: left out of the mean. A
    # detection of the right place with the wrong class does not count for
    # the true class.
    boxes, labels = truth([(0, 0, 10, 10, 0)], [(0, 0, 10, 10, 1)])
    detections = [found((0, 0, 10, 10, 0.5, 1), (0, 0, 10, 10, 0.4, 2)),
                  found((0, 0, 10, 10, 0.9, 0), (0, 0, 10, 10, 0.3, 1))]
    mean, per_class = detection.mean_average_precision(detections, boxes, labels, 3)
    assert per_class[0] == 0.0 and np.isnan(per_class[2])
    # Class 1: best first a miss (image 0 has no class-1 box), then the
    # hit: precision 1/2 at recall 1.
    assert per_class[1] == pytest.approx(0.5)
    assert mean == pytest.approx(0.25)


def test_mismatched_image_counts_are_refused():
    boxes, labels = truth([(0, 0, 10, 10, 0)])
    with pytest.raises(ValueError, match="2 images of detections for 1 images"):
        detection.mean_average_precision([found(), found()], boxes, labels, 1)


def test_scene_boxes_are_the_garments_tight_boxes():
    images, boxes, labels = datasets.fashion_detection("test", 64, seed=5)
    assert images.shape == (64, 1, SIZE, SIZE) and images.dtype == np.uint8
    assert ((labels >= -1) & (labels < CLASSES)).all() and (labels >= 0).any(1).all()
    for image, image_boxes, image_labels in zip(images, boxes, labels):
        garment = image[0] > 32
        for (x0, y0, x1, y1), label in zip(image_boxes.astype(int), image_labels):
            if label < 0:
                continue
            inside = garment[y0:y1, x0:x1]
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
        # Items do not overlap: no pixel is in two boxes.
        cover = np.zeros(garment.shape, int)
        for (x0, y0, x1, y1), label in zip(image_boxes.astype(int), image_labels):
            if label >= 0:
                cover[y0:y1, x0:x1] += 1
        assert cover.max() == 1
    again = datasets.fashion_detection("test", 64, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(again, (images, boxes, labels)))


def test_encode_then_decode_gives_the_true_boxes():
    _, boxes, labels = datasets.fashion_detection("test", 32, seed=6)
    targets = detection.encode(boxes, labels, CLASSES, GRID, STRIDE)
    assert targets.shape == (32, CLASSES + 4, GRID, GRID)
    # One class at each box's centre cell (the scenes' centres never share one).
    assert targets[:, :CLASSES].sum() == (labels >= 0).sum()
    # Logits +-20 make scores 1 at the true cells and ~0 elsewhere.
    outputs = targets.copy()
    outputs[:, :CLASSES] = np.where(targets[:, :CLASSES] > 0, 20.0, -20.0)
    detections = detection.decode(outputs, CLASSES, STRIDE)
    for (found_boxes, _, found_labels), true_boxes, true_labels in zip(detections, boxes, labels):
        keep = true_labels >= 0
        order = np.lexsort((found_boxes[:, 1], found_boxes[:, 0]))
        expected = np.lexsort((true_boxes[keep][:, 1], true_boxes[keep][:, 0]))
        np.testing.assert_allclose(found_boxes[order], true_boxes[keep][expected], atol=1e-4)
        np.testing.assert_array_equal(found_labels[order], true_labels[keep][expected])
    assert detection.mean_average_precision(detections, boxes, labels, CLASSES)[0] == 1.0


def test_loss_is_focal_plus_smooth_l1():
    torch.manual_seed(0)
    _, boxes, labels = datasets.fashion_detection("test", 8, seed=7)
    targets = torch.from_numpy(detection.encode(boxes, labels, CLASSES, GRID, STRIDE))
    outputs = torch.randn(targets.shape) * 3
    focal = torchvision.ops.sigmoid_focal_loss(outputs[:, :CLASSES], targets[:, :CLASSES],
                                               alpha=0.25, gamma=2, reduction="sum")
    positive = targets[:, :CLASSES].sum(1, keepdim=True) > 0
    regression = F.smooth_l1_loss(outputs[:, CLASSES:], targets[:, CLASSES:], beta=1 / 9,
                                  reduction="none")[positive.expand(-1, 4, -1, -1)].sum()
    expected = (focal + regression) / (positive.sum() + 1)
    actual = models.DetectionLoss(CLASSES)(outputs, targets)
    assert float(actual) == pytest.approx(float(expected), rel=1e-5)


@pytest.fixture(scope="module")
def page_example():
    """docs/detection.md's example, executed as written."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "detection.md")) as f:
        (block,) = re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)
    namespace = {"__name__": "__example__"}
    exec(compile(block, "docs/detection.md (python block)", "exec"), namespace)
    return namespace


def test_detector_trains_and_int8_equals_trained_model(page_example):
    # The example asserts that the int8 outputs equal the trained model's.
    outputs, int8 = page_example["outputs"], page_example["int8"]
    assert outputs.shape == (256, CLASSES + 4, GRID, GRID)
    # Untrained (the class biases' 1% prior everywhere), mAP is 0.0.
    assert page_example["mean_ap"] > 0.3, page_example["mean_ap"]
    # Every layer runs on integer codes: nothing computes in float.
    assert int8.quantized and int8.float_ops == 0
