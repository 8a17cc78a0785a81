"""Writer of a tiny COCO-format detection dataset (standard layout).

``write_tiny_coco(root)`` writes::

    root/annotations/instances_train2017.json
    root/annotations/instances_val2017.json
    root/train2017/000000000001.png ...
    root/val2017/...

Images are 64-128 px grey noise with 1-3 filled shapes; each category is one
(shape, colour) pair, so a small detector can learn them. Category ids are
deliberately not contiguous (2, 5, 9) to exercise the label -> category id
mapping of the evaluation.

With ``with_masks=True`` every annotation also gets a COCO polygon
``segmentation`` (the rectangle's 4 corners, or a 16-point polygon of the
ellipse), for instance-segmentation models such as Mask R-CNN.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np

#: (id, name, shape, BGR colour)
CATEGORIES = (
    (2, 'red_box', 'rect', (40, 40, 220)),
    (5, 'green_ellipse', 'ellipse', (60, 200, 60)),
    (9, 'blue_box', 'rect', (220, 80, 30)),
)
CLASSES = tuple(c[1] for c in CATEGORIES)


def _draw_image(rng, width, height, max_objects):
    image = rng.normal(128, 12, size=(height, width, 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    boxes = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cat = int(rng.integers(len(CATEGORIES)))
        w = int(rng.integers(width // 4, width // 2))
        h = int(rng.integers(height // 4, height // 2))
        x = int(rng.integers(0, width - w))
        y = int(rng.integers(0, height - h))
        _, _, shape, colour = CATEGORIES[cat]
        if shape == 'rect':
            cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), colour, -1)
        else:
            cv2.ellipse(image, (x + w // 2, y + h // 2),
                        (w // 2, h // 2), 0, 0, 360, colour, -1)
        boxes.append((cat, [x, y, w, h]))
    return image, boxes


def _polygon(cat, bbox, num_points=16):
    """COCO polygon ``[[x1, y1, x2, y2, ...]]`` of a shape drawn by
    :func:`_draw_image` (pixel-edge coordinates, clipped to ``bbox``)."""
    x, y, w, h = bbox
    if CATEGORIES[cat][2] == 'rect':
        return [[float(x), float(y), float(x + w), float(y),
                 float(x + w), float(y + h), float(x), float(y + h)]]
    # cv2.ellipse fills the pixels whose centres lie in the ellipse of centre
    # (x + w // 2, y + h // 2) and semi-axes (w // 2, h // 2).
    cx, cy = x + w // 2 + 0.5, y + h // 2 + 0.5
    ax, ay = w // 2 + 0.5, h // 2 + 0.5
    angles = np.arange(num_points) * (2 * np.pi / num_points)
    xs = np.clip(cx + ax * np.cos(angles), x, x + w)
    ys = np.clip(cy + ay * np.sin(angles), y, y + h)
    return [[round(float(v), 2) for xy in zip(xs, ys) for v in xy]]


def write_tiny_coco(root, num_train=8, num_val=4, max_objects=3, seed=0,
                    sizes=((128, 96), (96, 128), (128, 128), (64, 96)),
                    with_masks=False):
    """Write the dataset under ``root``; return ``dict(root, classes,
    train_ann, val_ann)`` (annotation paths relative to ``root``).

    ``sizes`` are (width, height) pairs used in turn. ``with_masks=True``
    adds a polygon ``segmentation`` to every annotation (the images and the
    other fields are the same as without it)."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    categories = [dict(id=cid, name=name, supercategory='shape')
                  for cid, name, _, _ in CATEGORIES]
    image_id, ann_id = 0, 0
    for split, num in (('train2017', num_train), ('val2017', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, annotations = [], []
        for i in range(num):
            image_id += 1
            width, height = sizes[i % len(sizes)]
            image, boxes = _draw_image(rng, width, height, max_objects)
            file_name = f'{image_id:012d}.png'
            cv2.imwrite(osp.join(root, split, file_name), image)
            images.append(
                dict(id=image_id, file_name=file_name, width=width,
                     height=height))
            for cat, bbox in boxes:
                ann_id += 1
                ann = dict(id=ann_id, image_id=image_id,
                           category_id=CATEGORIES[cat][0], bbox=bbox,
                           area=float(bbox[2] * bbox[3]), iscrowd=0)
                if with_masks:
                    ann['segmentation'] = _polygon(cat, bbox)
                annotations.append(ann)
        with open(osp.join(root, 'annotations', f'instances_{split}.json'),
                  'w') as f:
            json.dump(dict(images=images, annotations=annotations,
                           categories=categories), f)
    return dict(
        root=root,
        classes=CLASSES,
        train_ann='annotations/instances_train2017.json',
        val_ann='annotations/instances_val2017.json')
