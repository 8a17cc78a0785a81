"""FashionMNIST: local idx files (plain / gz), subsets, clear errors."""
import gzip
import os.path as osp

import numpy as np
import pytest

from nd_mmdet.datasets import FashionMNIST
from nd_mmdet.datasets.fashion_mnist import (DEFAULT_DATA_ROOT,
                                             balanced_subset, read_idx,
                                             write_idx)
from nd_mmdet.registry import DATASETS

TRAIN = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte')
TEST = ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def write_split(root, names, num, gz=True, seed=0):
    """``num`` random 28x28 images with labels 0..9 cycling."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(num, 28, 28), dtype=np.uint8)
    labels = (np.arange(num) % 10).astype(np.uint8)
    ext = '.gz' if gz else ''
    write_idx(osp.join(root, names[0] + ext), images)
    write_idx(osp.join(root, names[1] + ext), labels)
    return images, labels


@pytest.fixture
def root(tmp_path):
    write_split(str(tmp_path), TRAIN, 40, gz=True, seed=0)
    write_split(str(tmp_path), TEST, 20, gz=False, seed=1)
    return str(tmp_path)


def test_read_idx_hand_made_header(tmp_path):
    # magic 0x00000803 (uint8, 3-d), dims 2 x 2 x 3, then 12 bytes
    raw = bytes([0, 0, 8, 3]) + (2).to_bytes(4, 'big') + \
        (2).to_bytes(4, 'big') + (3).to_bytes(4, 'big') + bytes(range(12))
    for name, opener in (('a.idx', open), ('a.idx.gz', gzip.open)):
        path = str(tmp_path / name)
        with opener(path, 'wb') as f:
            f.write(raw)
        np.testing.assert_array_equal(
            read_idx(path), np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    path = write_idx(str(tmp_path / 'b.gz'), np.arange(5))
    with gzip.open(path, 'rb') as f:
        assert f.read() == bytes([0, 0, 8, 1, 0, 0, 0, 5, 0, 1, 2, 3, 4])


def test_loads_gz_and_plain_splits(root):
    images, labels = write_split(root, TRAIN, 40, gz=True, seed=0)
    train = FashionMNIST(data_root=root, split='train')
    assert len(train) == 40
    item = train.get_data_info(7)
    assert item['img'].shape == (28, 28, 3) and item['img'].dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(item['img'][..., c], images[7])
    assert item['gt_label'] == labels[7] == 7
    test_images, _ = write_split(root, TEST, 20, gz=False, seed=1)
    test = FashionMNIST(data_root=root, split='test', num_channels=1)
    assert len(test) == 20
    np.testing.assert_array_equal(test.get_data_info(3)['img'][..., 0],
                                  test_images[3])
    assert test.get_data_info(3)['img'].shape == (28, 28, 1)
    assert train.CLASSES[0] == 'T-shirt/top' and len(train.CLASSES) == 10


def test_registry_and_pipeline(root):
    ds = DATASETS.build(
        dict(
            type='nd_mmdet.FashionMNIST',
            data_root=root,
            split='test',
            pipeline=[dict(type='mmpretrain.PackInputs')]))
    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 28, 28)
    assert int(out['data_samples'].gt_label) == 0


def test_balanced_subset_is_fixed_and_balanced(root):
    a = FashionMNIST(data_root=root, subset_size=20, subset_seed=3)
    b = FashionMNIST(data_root=root, subset_size=20, subset_seed=3)
    c = FashionMNIST(data_root=root, subset_size=20, subset_seed=4)
    labels = [a.get_data_info(i)['gt_label'] for i in range(len(a))]
    assert len(a) == 20 and np.bincount(labels).tolist() == [2] * 10
    imgs = lambda d: np.stack(  # noqa: E731
        [d.get_data_info(i)['img'] for i in range(len(d))])
    np.testing.assert_array_equal(imgs(a), imgs(b))
    assert not np.array_equal(imgs(a), imgs(c))
    counts = np.bincount(np.arange(40) % 10)
    sub = balanced_subset(np.arange(40) % 10, 13, seed=0)
    assert np.bincount((np.arange(40) % 10)[sub]).tolist() == \
        [2, 2, 2] + [1] * 7 and counts.sum() == 40
    with pytest.raises(ValueError, match='only 4'):
        FashionMNIST(data_root=root, subset_size=50)


def test_missing_files_are_named(tmp_path, root):
    with pytest.raises(FileNotFoundError, match='train-images-idx3-ubyte'):
        FashionMNIST(data_root=str(tmp_path / 'nowhere'))
    import os
    os.remove(osp.join(root, 't10k-labels-idx1-ubyte'))
    with pytest.raises(FileNotFoundError, match='t10k-labels-idx1-ubyte'):
        FashionMNIST(data_root=root, split='test')
    with pytest.raises(ValueError, match="'train' or 'test'"):
        FashionMNIST(data_root=root, split='val')


def test_truncated_files_are_value_errors(tmp_path):
    root = str(tmp_path)
    write_split(root, TEST, 10, gz=False)
    path = osp.join(root, TEST[0])
    with open(path, 'rb') as f:
        raw = f.read()
    with open(path, 'wb') as f:
        f.write(raw[:-100])
    with pytest.raises(ValueError, match=r'truncated.*10 items'):
        FashionMNIST(data_root=root, split='test')
    # a gzip stream cut short
    write_split(root, TRAIN, 10, gz=True)
    gz = osp.join(root, TRAIN[0] + '.gz')
    with open(gz, 'rb') as f:
        raw = f.read()
    with open(gz, 'wb') as f:
        f.write(raw[:len(raw) // 2])
    with pytest.raises(ValueError, match='truncated or not a valid gzip'):
        FashionMNIST(data_root=root, split='train')
    # a complete gzip stream of a truncated idx file
    with gzip.open(gz, 'wb') as f:
        f.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, 'big') +
                (28).to_bytes(4, 'big') * 2 + bytes(100))
    with pytest.raises(ValueError, match='truncated'):
        FashionMNIST(data_root=root, split='train')
    # not an idx file at all
    with open(path, 'wb') as f:
        f.write(b'hello world')
    with pytest.raises(ValueError, match='not an idx file'):
        read_idx(path)


def test_image_label_count_mismatch(tmp_path):
    root = str(tmp_path)
    write_split(root, TEST, 10, gz=False)
    write_idx(osp.join(root, TEST[1]), np.zeros(9, np.uint8))
    with pytest.raises(ValueError, match='10 images but 9 labels'):
        FashionMNIST(data_root=root, split='test')


@pytest.mark.skipif(
    not osp.isfile(osp.join(DEFAULT_DATA_ROOT, TEST[0] + '.gz')),
    reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_package_test_split():
    ds = FashionMNIST(split='test', num_channels=1)
    assert len(ds) == 10000
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert np.bincount(labels).tolist() == [1000] * 10
