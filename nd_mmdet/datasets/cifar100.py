"""CIFAR-100 from the standard ``cifar-100-python`` layout (local only)."""
import os.path as osp
import pickle

import numpy as np
from mmpretrain.datasets import CIFAR100 as _MMPretrainCIFAR100

from nd_mmdet.registry import DATASETS


@DATASETS.register_module()
class CIFAR100(_MMPretrainCIFAR100):
    """MMPretrain's CIFAR-100 with local-only reading and clear errors.

    Reads ``<data_root>/cifar-100-python/{train,test}`` (the official
    archive, extracted). Differences from ``mmpretrain.CIFAR100``:
    ``download`` defaults to False (training never fetches data at run time),
    a missing file is a ``FileNotFoundError`` naming the expected path, and
    ``verify_md5=False`` skips the md5 check of the official files (for data
    written by tests or re-packed by users), and every file is validated
    where it is read (:func:`read_split_file`; mmpretrain reshapes any rows
    into 32 x 32 x 3 images and zips them with the labels, so 48 greyscale
    rows of 1,024 bytes become 16 garbage images with the first 16 labels,
    and a label -1 is kept).

    Each sample is ``{'img': uint8 (32, 32, 3) RGB, 'gt_label': int}``.
    """

    def __init__(self, data_root='', split='train', verify_md5=True,
                 download=False, **kwargs):
        self.verify_md5 = verify_md5
        super().__init__(
            data_root=data_root, split=split, download=download, **kwargs)

    def _expected_files(self):
        root = self.data_prefix['root']
        names = [n for n, _ in self.train_list + self.test_list]
        return [osp.join(root, self.base_folder, n) for n in names]

    def _check_integrity(self):
        if self.verify_md5:
            return super()._check_integrity()
        return all(osp.isfile(p) for p in self._expected_files())

    def load_data_list(self):
        if not self.download:
            missing = [p for p in self._expected_files() if not osp.isfile(p)]
            if missing:
                raise FileNotFoundError(
                    f'CIFAR-100 file not found: {missing[0]} (expected the '
                    'extracted cifar-100-python archive under data_root)')
            if not self._check_integrity():
                raise ValueError(
                    f'CIFAR-100 files under {self.data_prefix["root"]} fail '
                    'the md5 check of the official release; set '
                    'verify_md5=False to use them anyway')
        root = self.data_prefix['root']
        files = self.train_list if self.split == 'train' else self.test_list
        if self.CLASSES is None:
            self._load_meta()
        parts = [read_split_file(osp.join(root, self.base_folder, name),
                                 len(self.CLASSES))
                 for name, _ in files]
        return [{'img': img, 'gt_label': label}
                for images, labels in parts
                for img, label in zip(images, labels)]

#: Bytes of one CIFAR image row (3 x 32 x 32, channel-major).
ROW_BYTES = 3 * 32 * 32


def read_split_file(path, num_classes):
    """``(images (N, 32, 32, 3) uint8, labels list[int])`` of one
    ``cifar-100-python`` pickle, checked where it is read.

    Raises:
        ValueError: naming ``path``: not a pickle of a dict with ``data``
            and ``fine_labels`` (or ``labels``); ``data`` not a 2-d array of
            rows of :data:`ROW_BYTES` uint8 values; a count of labels other
            than of rows; a label that is not an integer or is outside
            ``[0, num_classes)`` (its index and value).
    """
    try:
        with open(path, 'rb') as f:
            entry = pickle.load(f, encoding='latin1')
    except (OSError, EOFError, pickle.UnpicklingError, ValueError,
            AttributeError, ImportError, IndexError) as err:
        raise ValueError(f'CIFAR-100 file {path} cannot be read (truncated '
                         f'or not a CIFAR pickle): {err}') from None
    labels = entry.get('fine_labels', entry.get('labels')) \
        if isinstance(entry, dict) else None
    if labels is None or 'data' not in entry:
        raise ValueError(f"CIFAR-100 file {path} has no 'data' and "
                         "'fine_labels' entries")
    data = np.asarray(entry['data'])
    if data.ndim != 2 or data.shape[1] != ROW_BYTES or \
            data.dtype != np.uint8:
        raise ValueError(
            f'CIFAR-100 file {path}: data has shape {data.shape} and dtype '
            f'{data.dtype}; expected (N, {ROW_BYTES}) uint8 rows (3 x 32 x '
            '32 colour images)')
    labels = list(labels)
    if len(labels) != len(data):
        raise ValueError(f'CIFAR-100 file {path}: {len(data)} image rows '
                         f'but {len(labels)} labels')
    for index, label in enumerate(labels):
        if isinstance(label, (bool, np.bool_)) or not isinstance(
                label, (int, np.integer)) or not 0 <= label < num_classes:
            raise ValueError(
                f'CIFAR-100 file {path}: label {label!r} at index {index} '
                f'is not an integer class index in [0, {num_classes})')
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, [int(label) for label in labels]
