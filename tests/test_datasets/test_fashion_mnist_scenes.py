"""Fashion-MNIST detection scenes: boxes, placement, COCO layout read by
MMDetection's CocoDataset, determinism, the converter tool."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from nd_mmdet.datasets.fashion_mnist import write_idx
from nd_mmdet.datasets.fashion_mnist_scenes import (ITEM_THRESHOLD,
                                                    compose_scene,
                                                    tight_box,
                                                    write_coco_scenes)
from tests.tools_runner import run_tool


def items_with_known_boxes(num=20, seed=0):
    """28x28 items: a bright rectangle at a random place (its box known),
    labels cycling 0..9."""
    rng = np.random.default_rng(seed)
    items = np.zeros((num, 28, 28), np.uint8)
    for i in range(num):
        x0, y0 = rng.integers(0, 10, size=2)
        x1, y1 = rng.integers(18, 28, size=2)
        items[i, y0:y1, x0:x1] = 200
    return items, (np.arange(num) % 10).astype(np.uint8)


def test_tight_box_by_hand():
    item = np.zeros((10, 12), np.uint8)
    item[2:5, 3:9] = 255
    item[7, 1] = ITEM_THRESHOLD  # not above the threshold: outside
    assert tight_box(item) == (3, 2, 6, 3)
    item[8, 10] = ITEM_THRESHOLD + 1
    assert tight_box(item) == (3, 2, 8, 7)
    assert tight_box(np.zeros((4, 4), np.uint8)) is None


def test_scene_boxes_enclose_exactly_the_bright_pixels():
    items, labels = items_with_known_boxes()
    rng = np.random.default_rng(3)
    for _ in range(30):
        image, objects = compose_scene(rng, items, labels, noise_std=0.0)
        assert image.shape == (64, 64) and image.dtype == np.uint8
        assert 1 <= len(objects) <= 3
        mask = np.zeros_like(image, bool)
        for label, (x, y, w, h) in objects:
            assert 0 <= label < 10 and w > 0 and h > 0
            assert x >= 0 and y >= 0 and x + w <= 64 and y + h <= 64
            # each box's border rows / columns hold item pixels
            box = image[y:y + h, x:x + w] > ITEM_THRESHOLD
            assert box[0].any() and box[-1].any()
            assert box[:, 0].any() and box[:, -1].any()
            assert not mask[y:y + h, x:x + w].any(), 'boxes overlap'
            mask[y:y + h, x:x + w] = True
        # no bright pixel outside the boxes (background noise is off)
        assert not (image[~mask] > ITEM_THRESHOLD).any()


def test_scene_errors():
    items, labels = items_with_known_boxes()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match='min_size <= max_size'):
        compose_scene(rng, items, labels, min_size=30, max_size=20)
    with pytest.raises(ValueError, match='could not place'):
        compose_scene(rng, np.zeros_like(items), labels)
    with pytest.raises(ValueError, match=r'train items .*\(N, H, W\)'):
        write_coco_scenes('/tmp/unused', items[0], labels, items, labels)


def test_coco_layout_read_by_mmdet(tmp_path):
    from mmdet.datasets import CocoDataset
    items, labels = items_with_known_boxes()
    files = write_coco_scenes(str(tmp_path), items, labels, items[:10],
                              labels[:10], num_train=12, num_val=5, seed=1)
    with open(files['train']) as f:
        train = json.load(f)
    assert [c['id'] for c in train['categories']] == list(range(1, 11))
    assert train['categories'][0]['name'] == 'T-shirt/top'
    assert len(train['images']) == 12
    ids = [a['id'] for a in train['annotations']]
    assert len(ids) == len(set(ids))
    dataset = CocoDataset(
        data_root=str(tmp_path), ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        metainfo=dict(classes=tuple(c['name'] for c in train['categories'])),
        pipeline=[])
    assert len(dataset) == 5
    with open(files['val']) as f:
        val = json.load(f)
    for info in dataset:
        image = cv2.imread(info['img_path'], cv2.IMREAD_GRAYSCALE)
        assert image.shape == (64, 64)
        anns = [a for a in val['annotations']
                if a['image_id'] == info['img_id']]
        assert len(info['instances']) == len(anns) >= 1
        for inst, ann in zip(info['instances'], anns):
            x, y, w, h = ann['bbox']
            assert inst['bbox'] == [x, y, x + w, y + h]
            assert inst['bbox_label'] == ann['category_id'] - 1
    # deterministic: the same seed writes the same scenes
    again = write_coco_scenes(str(tmp_path / 'again'), items, labels,
                              items[:10], labels[:10], num_train=12,
                              num_val=5, seed=1)
    with open(again['val']) as f:
        assert json.load(f) == val
    first = dataset[0]['img_path']
    second = osp.join(str(tmp_path / 'again'), 'val', osp.basename(first))
    assert np.array_equal(cv2.imread(first), cv2.imread(second))


def test_converter_tool(tmp_path):
    root = tmp_path / 'fmnist'
    root.mkdir()
    items, labels = items_with_known_boxes(30)
    for prefix in ('train', 't10k'):
        write_idx(str(root / f'{prefix}-images-idx3-ubyte.gz'), items)
        write_idx(str(root / f'{prefix}-labels-idx1-ubyte.gz'), labels)
    out = tmp_path / 'scenes'
    proc = run_tool('dataset_converters/fashion_mnist_to_coco.py',
                    '--data-root', root, '--out', out, '--num-train', 6,
                    '--num-val', 3)
    assert 'wrote 6 training scenes' in proc.stdout
    with open(out / 'annotations' / 'instances_val.json') as f:
        assert len(json.load(f)['images']) == 3
    assert len(list((out / 'train').glob('*.png'))) == 6
    proc = run_tool('dataset_converters/fashion_mnist_to_coco.py',
                    '--data-root', tmp_path / 'missing', '--out', out,
                    check=False)
    assert proc.returncode != 0
    assert 'error:' in proc.stdout and 'missing' in proc.stdout
