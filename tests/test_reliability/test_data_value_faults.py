"""Fault catalogue: data validated where it is read. Labels out of range or
not integers (CIFAR-100 pickles, Fashion-MNIST idx files; test split as
train), CIFAR rows of another shape, non-finite COCO boxes (train and val
json), truncated or undecodable images."""
import json
import math
import os
import pickle
import shutil

import cv2
import numpy as np
import pytest

from nd_mmdet.datasets.fashion_mnist import FashionMNIST, write_idx
from nd_mmdet.utils.preflight import PreflightError
from tests.test_reliability.test_dataset_faults import (coco, dataset,  # noqa
                                                        det_cfg, preflight_of,
                                                        train_json)
from tests.test_reliability.tool_call import assert_one_error
from tests.tiny_data import write_tiny_cifar100
from tests.tools_runner import cifar_options

KD = 'configs/cifar100/kd/kd_resnet56-resnet20_cifar100.py'


def _edit_cifar(root, split, edit):
    """Rewrite ``root/cifar-100-python/<split>`` with ``edit(entry)``."""
    path = os.path.join(root, 'cifar-100-python', split)
    with open(path, 'rb') as f:
        entry = pickle.load(f)
    edit(entry)
    with open(path, 'wb') as f:
        pickle.dump(entry, f)
    return path


def _set_label(index, value):
    def edit(entry):
        entry['fine_labels'][index] = value
    return edit


def _grey_rows(entry):
    """48 greyscale rows (32 x 32 = 1,024 bytes) instead of colour ones."""
    entry['data'] = np.zeros((48, 1024), np.uint8)
    entry['fine_labels'] = entry['fine_labels'][:48]


@pytest.mark.parametrize('split', ['train', 'test'])
@pytest.mark.parametrize('edit,needles', [
    (_set_label(5, -1), ['label -1 at index 5', '[0, 100)']),
    (_set_label(7, 100), ['label 100 at index 7']),
    (_set_label(3, 2.5), ['label 2.5 at index 3', 'not an integer']),
    (_grey_rows, ['data has shape (48, 1024)', '(N, 3072)']),
])
@pytest.mark.clear_error
def test_cifar_file_with_bad_rows_or_labels(tool, tiny_cifar_teacher,
                                            tmp_path, split, edit, needles):
    root = str(tmp_path / 'cifar')
    write_tiny_cifar100(root, num_train=64, num_test=64)
    path = _edit_cifar(root, split, edit)
    result = tool('train.py', KD, '--work-dir', tmp_path / 'run',
                  *cifar_options(root),
                  f'model.teacher_ckpt={tiny_cifar_teacher}')
    assert_one_error(result, path, *needles)


@pytest.mark.parametrize('split', ['train', 'test'])
@pytest.mark.clear_error
def test_fashion_mnist_label_out_of_range(tmp_path, split):
    images, labels = np.zeros((6, 28, 28), np.uint8), np.arange(6) % 3
    labels[4] = 10
    prefix = 't10k' if split == 'test' else 'train'
    write_idx(str(tmp_path / f'{prefix}-images-idx3-ubyte'), images)
    write_idx(str(tmp_path / f'{prefix}-labels-idx1-ubyte.gz'), labels)
    with pytest.raises(ValueError) as err:
        FashionMNIST(data_root=str(tmp_path), split=split)
    assert str(tmp_path / f'{prefix}-labels-idx1-ubyte.gz') in str(err.value)
    assert 'label 10 at index 4 is outside [0, 10)' in str(err.value)


@pytest.mark.parametrize('loader,split', [
    ('train_dataloader', 'train2017'), ('val_dataloader', 'val2017')])
@pytest.mark.parametrize('field,value', [
    (0, math.nan), (2, math.nan), (3, math.inf), ('area', -math.inf)])
@pytest.mark.clear_error
def test_coco_box_that_is_not_finite(coco, tmp_path, loader, split, field,  # noqa: F811,E501
                                     value):
    data = json.loads((coco / 'annotations' /
                       f'instances_{split}.json').read_text())
    ann = data['annotations'][1]
    if field == 'area':
        ann['area'] = value
    else:
        ann['bbox'][field] = value
    path = tmp_path / f'{split}.json'
    path.write_text(json.dumps(data))  # NaN / Infinity, as Python writes
    loaders = {loader: dict(dataset=dataset(coco, str(path), split=split))}
    if loader != 'train_dataloader':
        loaders['train_dataloader'] = dict(dataset=dataset(coco))
    with pytest.raises(PreflightError) as err:
        preflight_of(det_cfg(coco, **loaders), tuple(loaders))
    assert str(path) in str(err.value)
    assert f'annotation id {ann["id"]}' in str(err.value)
    assert str(value) in str(err.value)


def _load_image(path):
    import nd_mmdet.compat
    from mmcv.transforms import LoadImageFromFile
    nd_mmdet.compat.check_image_loading()
    assert 'image-load-check' in nd_mmdet.compat.APPLIED
    return LoadImageFromFile()(dict(img_path=str(path)))


@pytest.mark.parametrize('ext', ['.jpg', '.png'])
@pytest.mark.clear_error
def test_truncated_image_is_one_line_naming_it(coco, tmp_path, ext):  # noqa: F811,E501
    image = cv2.imread(str(next((coco / 'train2017').iterdir())))
    path = tmp_path / f'cut{ext}'
    cv2.imwrite(str(path), image)
    whole = path.read_bytes()
    assert _load_image(path)['img'].shape == image.shape
    path.write_bytes(whole[:len(whole) * 2 // 3])
    with pytest.raises(ValueError) as err:
        _load_image(path)
    assert str(path) in str(err.value) and 'truncated' in str(err.value)
    assert '\n' not in str(err.value)


@pytest.mark.clear_error
def test_file_that_is_not_an_image(tmp_path):
    path = tmp_path / 'notes.jpg'
    path.write_text('not an image at all')
    with pytest.raises(ValueError, match='cannot be decoded') as err:
        _load_image(path)
    assert str(path) in str(err.value)


@pytest.mark.clear_error
def test_truncated_training_image_through_train_tool(tool, coco, tmp_path):  # noqa: F811,E501
    """The same through tools/train.py on a tiny RetinaNet: one line."""
    from tests.test_e2e.test_dense_e2e import CASES, TINY_MODEL
    from tests.test_e2e.test_detection_e2e import SHRINK, write_config
    from tests.tiny_coco import CLASSES
    data = tmp_path / 'coco'
    shutil.copytree(coco, data)
    victim = sorted((data / 'train2017').iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:200])
    config = write_config(
        tmp_path / 'retinanet.py', CASES['retinanet']['student'],
        TINY_MODEL.format(backbone='', neck='', num_classes=len(CLASSES)) +
        SHRINK.format(iters=2, root=str(data), classes=CLASSES))
    result = tool('train.py', config, '--work-dir', tmp_path / 'run')
    assert_one_error(result, victim, 'cannot be decoded')


@pytest.mark.parametrize('split', ['train', 'test'])
@pytest.mark.survived
def test_clean_cifar_files_read_as_mmpretrain_reads_them(tiny_cifar_root,
                                                         split):
    """The validating reader returns exactly mmpretrain's images and
    labels on valid files."""
    from mmpretrain.datasets import CIFAR100 as MMPretrainCIFAR100

    from nd_mmdet.datasets.cifar100 import CIFAR100

    class Reference(MMPretrainCIFAR100):
        def _check_integrity(self):  # the tiny files are not the official
            return True

    ours = CIFAR100(data_root=tiny_cifar_root, split=split, verify_md5=False)
    ref = Reference(data_root=tiny_cifar_root, split=split, download=False)
    assert len(ours) == len(ref) == (64 if split == 'train' else 32)
    for i in range(len(ref)):
        a, b = ours.get_data_info(i), ref.get_data_info(i)
        assert a['gt_label'] == b['gt_label']
        assert np.array_equal(a['img'], b['img'])
