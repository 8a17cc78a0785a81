"""What a class-centre file was computed from: the dataset's identity.

``dataset_identity(dataset)`` returns ``dict(type, length, digest)``: the
dataset class, its number of samples and a sha256 over what decides the
class centres of each sample, in order: the image file's base name (not the
directory, so a moved dataset keeps its identity) or the bytes of an
in-memory image (CIFAR), the image label, and the label and box of each
instance. Two datasets with the same identity give the same centres for
the same teacher; a different annotation file, split or class subset
changes the digest.
"""
import hashlib
import os.path as osp

import numpy as np

#: Keys of a data info that identify a sample (in this order).
_PATH_KEYS = ('img_path', 'filename', 'img')
_LABEL_KEYS = ('gt_label', 'gt_labels', 'label')


def _update(sha, value):
    if isinstance(value, np.ndarray):
        sha.update(str(value.dtype).encode())
        sha.update(str(value.shape).encode())
        sha.update(np.ascontiguousarray(value).tobytes())
    elif hasattr(value, 'numpy'):  # a tensor
        _update(sha, value.numpy())
    elif isinstance(value, float):
        sha.update(repr(round(value, 3)).encode())
    else:
        sha.update(repr(value).encode())
    sha.update(b'|')


def _sample_key(sha, info):
    for key in _PATH_KEYS:
        value = info.get(key)
        if isinstance(value, str):
            _update(sha, osp.basename(value))
            break
        if isinstance(value, np.ndarray):
            _update(sha, value)
            break
    for key in _LABEL_KEYS:
        if key in info:
            _update(sha, info[key])
    for inst in info.get('instances') or []:
        _update(sha, (inst.get('bbox_label'), inst.get('ignore_flag', 0)))
        _update(sha, [float(v) for v in inst.get('bbox', [])])


def dataset_identity(dataset):
    """``dict(type=str, length=int, digest=str)`` of ``dataset`` (see the
    module doc). Datasets without ``get_data_info`` are identified by
    type and length only (``digest=None``)."""
    length = len(dataset)
    identity = dict(type=type(dataset).__name__, length=length, digest=None)
    get_info = getattr(dataset, 'get_data_info', None)
    if get_info is None:
        return identity
    sha = hashlib.sha256()
    for index in range(length):
        _sample_key(sha, get_info(index))
    identity['digest'] = sha.hexdigest()[:16]
    return identity
