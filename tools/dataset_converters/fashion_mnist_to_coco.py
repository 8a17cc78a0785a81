"""Write Fashion-MNIST detection scenes in COCO layout (real items, CPU).

Each scene is a grey canvas with 1..N real Fashion-MNIST items at random
sizes and places (see ``nd_mmdet/datasets/fashion_mnist_scenes.py``);
training scenes use the training split's items, validation scenes the test
split's. MMDetection's ``CocoDataset`` reads the result unchanged
(``configs/demo/dense/``, ``configs/demo/two_stage/``).

``--classes`` makes a smaller dataset of some of the ten classes (the
custom-dataset walkthrough, ``docs/custom_dataset.md``): only items of those
classes are drawn, and the annotation files list only those categories
(their ids stay Fashion-MNIST label + 1, in label order).

Usage::

    python tools/dataset_converters/fashion_mnist_to_coco.py \\
        [--data-root /usr/share/datasets/fashion-mnist] \\
        [--out data/fashion_mnist_det] [--num-train 12000] [--num-val 1000] \\
        [--classes Trouser Sneaker Bag]
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from nd_mmdet.datasets.fashion_mnist import (  # noqa: E402
    DEFAULT_DATA_ROOT, load_split)
from nd_mmdet.datasets.fashion_mnist_scenes import (  # noqa: E402
    CATEGORIES, write_coco_scenes)
from nd_mmdet.utils.entrypoint import run_cli  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fashion-MNIST items pasted on canvases, written as a '
        'COCO-format detection dataset')
    parser.add_argument('--data-root', default=DEFAULT_DATA_ROOT,
                        help='folder of the Fashion-MNIST idx files')
    parser.add_argument('--out', default='data/fashion_mnist_det',
                        help='output root (annotations/, train/, val/)')
    parser.add_argument('--num-train', type=int, default=12000)
    parser.add_argument('--num-val', type=int, default=1000)
    parser.add_argument('--canvas-size', type=int, default=64)
    parser.add_argument('--max-objects', type=int, default=3)
    parser.add_argument('--min-size', type=int, default=20,
                        help='smallest item side after resizing (px)')
    parser.add_argument('--max-size', type=int, default=40,
                        help='largest item side after resizing (px)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--classes', nargs='+', metavar='NAME',
        help='keep only these Fashion-MNIST classes (default: all ten): '
        + ', '.join(repr(c['name']) for c in CATEGORIES))
    args = parser.parse_args(argv)
    if args.num_train < 1 or args.num_val < 1:
        parser.error('--num-train and --num-val must be >= 1')
    return args


def class_labels(names):
    """Fashion-MNIST labels of the class ``names`` (sorted), or None for
    all classes; an unknown name is a ValueError listing the valid ones."""
    if not names:
        return None
    label_of = {c['name']: c['id'] - 1 for c in CATEGORIES}
    unknown = [n for n in names if n not in label_of]
    if unknown:
        raise ValueError(f'--classes: unknown class {unknown[0]!r}; the '
                         f'Fashion-MNIST classes are {list(label_of)}')
    return sorted({label_of[n] for n in names})


def keep_labels(items, labels, kept):
    """The ``items`` (N, H, W) / ``labels`` (N,) whose label is in
    ``kept`` (all when ``kept`` is None)."""
    if kept is None:
        return items, labels
    mask = np.isin(labels, kept)
    return items[mask], labels[mask]


def keep_categories(ann_file, kept):
    """Rewrite ``ann_file`` so its ``categories`` are those of the labels
    ``kept`` (no annotation of another class was written)."""
    with open(ann_file) as f:
        coco = json.load(f)
    coco['categories'] = [c for c in coco['categories']
                          if c['id'] - 1 in kept]
    with open(ann_file, 'w') as f:
        json.dump(coco, f)


def main(argv=None):
    args = parse_args(argv)
    kept = class_labels(args.classes)
    train_items, train_labels = keep_labels(
        *load_split(args.data_root, 'train'), kept)
    val_items, val_labels = keep_labels(
        *load_split(args.data_root, 'test'), kept)
    if len(train_labels) == 0 or len(val_labels) == 0:
        raise ValueError(f'--classes {args.classes}: no item of these '
                         f'classes in {args.data_root}')
    files = write_coco_scenes(
        args.out, train_items, train_labels, val_items, val_labels,
        num_train=args.num_train, num_val=args.num_val, seed=args.seed,
        canvas_size=args.canvas_size, max_objects=args.max_objects,
        min_size=args.min_size, max_size=args.max_size)
    if kept is not None:
        for ann_file in files.values():
            keep_categories(ann_file, kept)
    print(f'wrote {args.num_train} training scenes ({files["train"]}) and '
          f'{args.num_val} validation scenes ({files["val"]})')


if __name__ == '__main__':
    run_cli(main)
