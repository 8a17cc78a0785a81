"""Write Fashion-MNIST detection scenes in COCO layout (real items, CPU).

Each scene is a grey canvas with 1..N real Fashion-MNIST items at random
sizes and places (see ``nd_mmdet/datasets/fashion_mnist_scenes.py``);
training scenes use the training split's items, validation scenes the test
split's. MMDetection's ``CocoDataset`` reads the result unchanged
(``configs/demo_dense/``).

Usage::

    python tools/dataset_converters/fashion_mnist_to_coco.py \\
        [--data-root /usr/share/datasets/fashion-mnist] \\
        [--out data/fashion_mnist_det] [--num-train 12000] [--num-val 1000]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from nd_mmdet.datasets.fashion_mnist import (  # noqa: E402
    DEFAULT_DATA_ROOT, load_split)
from nd_mmdet.datasets.fashion_mnist_scenes import \
    write_coco_scenes  # noqa: E402
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
    args = parser.parse_args(argv)
    if args.num_train < 1 or args.num_val < 1:
        parser.error('--num-train and --num-val must be >= 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    train_items, train_labels = load_split(args.data_root, 'train')
    val_items, val_labels = load_split(args.data_root, 'test')
    files = write_coco_scenes(
        args.out, train_items, train_labels, val_items, val_labels,
        num_train=args.num_train, num_val=args.num_val, seed=args.seed,
        canvas_size=args.canvas_size, max_objects=args.max_objects,
        min_size=args.min_size, max_size=args.max_size)
    print(f'wrote {args.num_train} training scenes ({files["train"]}) and '
          f'{args.num_val} validation scenes ({files["val"]})')


if __name__ == '__main__':
    run_cli(main)
