"""Fashion-MNIST from local idx files (plain or gzipped), never downloaded."""
import gzip
import os.path as osp
import zlib

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.datasets.categories import FASHIONMNIST_CATEGORITES

from nd_mmdet.registry import DATASETS

#: Where Debian's ``dataset-fashion-mnist`` package installs the files.
DEFAULT_DATA_ROOT = '/usr/share/datasets/fashion-mnist'

#: idx element type code -> numpy dtype (big-endian where it matters).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype('>i2'),
    0x0C: np.dtype('>i4'),
    0x0D: np.dtype('>f4'),
    0x0E: np.dtype('>f8'),
}


def read_idx(path):
    """Read one idx file (``.gz`` is decompressed) into a numpy array.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a bad header, or fewer / more data bytes than the
            header's dimensions say (a truncated download), or a truncated
            or corrupt gzip stream.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Fashion-MNIST file not found: {path}')
    try:
        if path.endswith('.gz'):
            with gzip.open(path, 'rb') as f:
                raw = f.read()
        else:
            with open(path, 'rb') as f:
                raw = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f'Fashion-MNIST file {path} is truncated or not a '
                         f'valid gzip file ({err})') from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or \
            raw[2] not in _IDX_DTYPES:
        raise ValueError(f'Fashion-MNIST file {path} is not an idx file '
                         f'(bad magic number {raw[:4].hex() or "<empty>"})')
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f'Fashion-MNIST file {path} is truncated: its '
                         f'{ndim}-d idx header needs {header} bytes, the file '
                         f'has {len(raw)}')
    dims = tuple(
        int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = 'truncated' if found < expected else 'longer than its header'
        raise ValueError(
            f'Fashion-MNIST file {path} is {what}: the header announces '
            f'{dims[0] if dims else 0} items of shape {dims[1:]} '
            f'({expected} data bytes) but the file holds {found}')
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def write_idx(path, array):
    """Write ``array`` (uint8) as an idx file, gzipped when ``path`` ends
    with ``.gz`` (to make small Fashion-MNIST-format files, e.g. in tests)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
        int(d).to_bytes(4, 'big') for d in array.shape)
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(header + array.tobytes())
    return path


def balanced_subset(labels, size, seed=0):
    """Indices (sorted) of a class-balanced random subset of ``labels``.

    Each of the K classes present gets ``size // K`` samples, the first
    ``size % K`` classes (in label order) one more; the choice depends only
    on ``labels``, ``size`` and ``seed``.

    Raises:
        ValueError: ``size`` < 1, or a class has fewer samples than its share.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if size < 1:
        raise ValueError(f'subset_size must be >= 1, got {size}')
    rng = np.random.default_rng(seed)
    base, extra = divmod(size, len(classes))
    chosen = []
    for i, cls in enumerate(classes):
        share = base + (1 if i < extra else 0)
        members = np.flatnonzero(labels == cls)
        if share > len(members):
            raise ValueError(
                f'subset_size={size} needs {share} samples of class {cls} '
                f'but the split has only {len(members)}')
        chosen.append(rng.permutation(members)[:share])
    return np.sort(np.concatenate(chosen))


#: split -> (images file, labels file), without the optional ``.gz``.
SPLIT_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def find_file(data_root, name):
    """``<data_root>/<name>`` if present, else ``<name>.gz``; a
    FileNotFoundError naming both otherwise."""
    plain = osp.join(data_root, name)
    if osp.isfile(plain):
        return plain
    gz = plain + '.gz'
    if osp.isfile(gz):
        return gz
    raise FileNotFoundError(
        f'Fashion-MNIST file not found: {gz} (nor {plain}); install '
        "Debian's dataset-fashion-mnist package or set data_root to the "
        'folder of the idx files')


def load_split(data_root, split):
    """``images`` (N, 28, 28) uint8 and ``labels`` (N,) of ``split``
    (``'train'`` or ``'test'``), checked for matching lengths."""
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    image_name, label_name = SPLIT_FILES[split]
    images = read_idx(find_file(data_root, image_name))
    labels = read_idx(find_file(data_root, label_name))
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(
            f'Fashion-MNIST {split}: expected (N, H, W) images and '
            f'(N,) labels, got {images.shape} and {labels.shape}')
    if len(images) != len(labels):
        raise ValueError(
            f'Fashion-MNIST {split}: {len(images)} images but '
            f'{len(labels)} labels')
    return images, labels


def check_labels(labels, num_classes, path):
    """``labels`` (read from ``path``) are integers in ``[0, num_classes)``.

    Raises:
        ValueError: naming ``path``, the first bad index and its value.
    """
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'Fashion-MNIST file {path}: labels are '
                         f'{labels.dtype}, expected integer class indices')
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise ValueError(
            f'Fashion-MNIST file {path}: label {labels[bad[0]]} at index '
            f'{bad[0]} is outside [0, {num_classes}) ({len(bad)} such '
            'labels)')


@DATASETS.register_module()
class FashionMNIST(BaseDataset):
    """Fashion-MNIST (Xiao et al. 2017) read from local idx files.

    Reads ``<data_root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``
    (the plain file when present, else the gzipped one); ``data_root``
    defaults to where Debian's ``dataset-fashion-mnist`` installs them.
    Unlike ``mmpretrain.FashionMNIST`` nothing is ever downloaded: a missing
    file is a ``FileNotFoundError`` naming it, a truncated or corrupt one a
    ``ValueError``.

    Each sample is ``{'img': uint8 (28, 28, num_channels), 'gt_label': int}``
    (the grey level repeated ``num_channels`` times, so 3-channel models
    such as ``CifarResNet`` take it as is).

    Args:
        data_root (str): folder of the idx files.
        split (str): ``'train'`` (60,000 images) or ``'test'`` (10,000).
        subset_size (int, optional): keep a fixed class-balanced random
            subset of this many samples of the split (e.g. the small training
            set of a student); None keeps all.
        subset_seed (int): seed of the subset choice (independent of the
            training seed, so runs with different seeds share the subset).
        num_channels (int): 1 (grey) or 3 (grey repeated).
        **kwargs: other arguments of ``mmpretrain.datasets.BaseDataset``
            (``pipeline``, ``test_mode``, ...).
    """

    METAINFO = {'classes': FASHIONMNIST_CATEGORITES}
    FILES = SPLIT_FILES

    def __init__(self,
                 data_root=DEFAULT_DATA_ROOT,
                 split='train',
                 subset_size=None,
                 subset_seed=0,
                 num_channels=3,
                 **kwargs):
        if split not in self.FILES:
            raise ValueError(f"split must be 'train' or 'test', got "
                             f'{split!r}')
        if num_channels not in (1, 3):
            raise ValueError(f'num_channels must be 1 or 3, got '
                             f'{num_channels!r}')
        self.split = split
        self.subset_size = subset_size
        self.subset_seed = subset_seed
        self.num_channels = num_channels
        super().__init__(
            ann_file='',
            data_root=data_root,
            data_prefix=dict(root=''),
            **kwargs)

    def load_data_list(self):
        images, labels = load_split(self.data_root or '', self.split)
        check_labels(labels, len(self.METAINFO['classes']),
                     find_file(self.data_root or '', self.FILES[self.split][1]))
        indices = np.arange(len(labels))
        if self.subset_size is not None:
            indices = balanced_subset(labels, self.subset_size,
                                      self.subset_seed)
        data_list = []
        for i in indices:
            img = images[i][..., None]
            if self.num_channels == 3:
                img = np.repeat(img, 3, axis=2)
            data_list.append(
                dict(img=np.ascontiguousarray(img), gt_label=int(labels[i])))
        return data_list

    def extra_repr(self):
        body = [f'Split: \t{self.split}', f'Data root: \t{self.data_root}']
        if self.subset_size is not None:
            body.append(f'Subset: \t{self.subset_size} (balanced, seed '
                        f'{self.subset_seed})')
        return body
