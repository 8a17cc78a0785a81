"""Detection scenes made of real Fashion-MNIST items, written in COCO layout.

A *scene* is a small grey canvas with 1..``max_objects`` Fashion-MNIST
items, each resized to a random side in ``[min_size, max_size]`` px and
pasted (pixel-wise maximum) where its tight box does not overlap the boxes
already placed. The box of an item is the tight box of its pixels brighter
than ``ITEM_THRESHOLD`` after resizing (Fashion-MNIST items do not fill
their 28 x 28 frame: a pair of trousers is a narrow box). The class is the
item's Fashion-MNIST label. The background is dark Gaussian noise.

``write_coco_scenes`` writes the standard COCO layout that MMDetection's
``CocoDataset`` reads unchanged::

    <out>/annotations/instances_train.json   <out>/train/000000000001.png ...
    <out>/annotations/instances_val.json     <out>/val/...

Training scenes draw their items from Fashion-MNIST's training split,
validation scenes from its test split, so no item is seen in both. The
output depends only on the arguments (the seed included).
"""
import json
import os
import os.path as osp

import cv2
import numpy as np
from mmpretrain.datasets.categories import FASHIONMNIST_CATEGORITES

#: Grey level above which a resized item's pixel belongs to its box.
ITEM_THRESHOLD = 24
#: COCO category ids: Fashion-MNIST label + 1 (COCO ids start at 1).
CATEGORIES = tuple(
    dict(id=label + 1, name=name, supercategory='fashion')
    for label, name in enumerate(FASHIONMNIST_CATEGORITES))


def tight_box(item, threshold=ITEM_THRESHOLD):
    """``(x, y, w, h)`` of the pixels of ``item`` (H, W) above
    ``threshold``, or None when there is none."""
    ys, xs = np.nonzero(item > threshold)
    if len(xs) == 0:
        return None
    x0, y0 = int(xs.min()), int(ys.min())
    return x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1


def _overlaps(box, boxes):
    x, y, w, h = box
    return any(x < bx + bw and bx < x + w and y < by + bh and by < y + h
               for bx, by, bw, bh in boxes)


def compose_scene(rng, items, labels, canvas_size=64, max_objects=3,
                  min_size=20, max_size=40, noise_std=8.0, max_tries=30):
    """One scene from the pool ``items`` (N, 28, 28) uint8 / ``labels``
    (N,).

    Returns:
        tuple: ``image`` (canvas, canvas) uint8 and a list of
        ``(label, (x, y, w, h))``, at least one entry.
    """
    if not 0 < min_size <= max_size <= canvas_size:
        raise ValueError(f'need 0 < min_size <= max_size <= canvas_size, '
                         f'got {min_size}, {max_size}, {canvas_size}')
    image = rng.normal(0.0, noise_std, size=(canvas_size, canvas_size))
    image = np.clip(image, 0, 255).astype(np.uint8)
    objects = []
    wanted = int(rng.integers(1, max_objects + 1))
    for _ in range(max_tries):
        if len(objects) == wanted:
            break
        index = int(rng.integers(len(items)))
        side = int(rng.integers(min_size, max_size + 1))
        item = cv2.resize(items[index], (side, side),
                          interpolation=cv2.INTER_AREA)
        box = tight_box(item)
        if box is None:
            continue
        x = int(rng.integers(0, canvas_size - side + 1))
        y = int(rng.integers(0, canvas_size - side + 1))
        placed = (x + box[0], y + box[1], box[2], box[3])
        if _overlaps(placed, [b for _, b in objects]):
            continue
        region = image[y:y + side, x:x + side]
        np.maximum(region, item, out=region)
        objects.append((int(labels[index]), placed))
    if not objects:
        raise ValueError('could not place any item: every drawn item is '
                         'empty at this size')
    return image, objects


def _write_split(out_dir, split, items, labels, num_images, rng, first_id,
                 **scene_kwargs):
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    images, annotations = [], []
    ann_id = 0
    for offset in range(num_images):
        image_id = first_id + offset
        image, objects = compose_scene(rng, items, labels, **scene_kwargs)
        file_name = f'{image_id:012d}.png'
        cv2.imwrite(osp.join(out_dir, split, file_name), image)
        height, width = image.shape
        images.append(dict(id=image_id, file_name=file_name, width=width,
                           height=height))
        for label, (x, y, w, h) in objects:
            ann_id += 1
            annotations.append(
                dict(id=ann_id, image_id=image_id, category_id=label + 1,
                     bbox=[x, y, w, h], area=float(w * h), iscrowd=0))
    ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=list(CATEGORIES)), f)
    return ann_file


def write_coco_scenes(out_dir, train_items, train_labels, val_items,
                      val_labels, num_train=12000, num_val=1000, seed=0,
                      **scene_kwargs):
    """Write ``num_train`` training and ``num_val`` validation scenes.

    Args:
        out_dir (str): output root (created).
        train_items, val_items (np.ndarray): (N, 28, 28) uint8 items.
        train_labels, val_labels (np.ndarray): (N,) labels in [0, 10).
        num_train, num_val (int): scenes per split.
        seed (int): the one seed of every random choice.
        **scene_kwargs: ``canvas_size``, ``max_objects``, ``min_size``,
            ``max_size``, ``noise_std`` of :func:`compose_scene`.

    Returns:
        dict: ``train`` / ``val`` annotation file paths.
    """
    for name, items, labels in (('train', train_items, train_labels),
                                ('val', val_items, val_labels)):
        if items.ndim != 3 or labels.shape != items.shape[:1]:
            raise ValueError(
                f'{name} items must be (N, H, W) with (N,) labels, got '
                f'{items.shape} and {labels.shape}')
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    train_rng, val_rng = (np.random.default_rng(s)
                          for s in np.random.SeedSequence(seed).spawn(2))
    return dict(
        train=_write_split(out_dir, 'train', train_items, train_labels,
                           num_train, train_rng, 1, **scene_kwargs),
        val=_write_split(out_dir, 'val', val_items, val_labels, num_val,
                         val_rng, num_train + 1, **scene_kwargs))
