"""Loading teacher checkpoints and centre files without unpickling code.

Every file this toolkit reads that a user may have downloaded (teacher
checkpoints, class-centre files) goes through :func:`safe_torch_load`, i.e.
``torch.load(weights_only=True)`` plus the numpy types that mmengine writes in
checkpoint metadata. A file that carries a pickled callable is refused with
an error naming the file, never executed.
"""
import hashlib
import os.path as osp
import pickle
import zipfile

import torch


def _numpy_safe_globals():
    import numpy as np
    names = [np.dtype, np.ndarray]
    try:
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 2 moved these
        from numpy._core.multiarray import _reconstruct, scalar
    names += [_reconstruct, scalar]
    names += [type(np.dtype(t)) for t in
              ('float64', 'float32', 'int64', 'int32', 'bool', 'uint8')]
    return names


def safe_torch_load(path, what='checkpoint'):
    """``torch.load(path, weights_only=True)`` with clear errors.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is truncated / not a torch file, or it holds
            pickled objects other than tensors and plain containers.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f'{what} {path} holds pickled objects that weights_only loading '
            f'refuses (a callable or a class instance); it is not loaded. '
            f'Re-save only tensors: {str(err).splitlines()[0]}') from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise ValueError(
            f'{what} {path} cannot be read (truncated or not a torch file): '
            f'{str(err).splitlines()[0]}') from err


def file_digest(path, length=16):
    """First ``length`` hex digits of the file's sha256 (identifies a
    teacher checkpoint in class-centre metadata)."""
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            sha.update(block)
    return sha.hexdigest()[:length]


def _strip_prefix(state_dict, prefix):
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix):]: v for k, v in state_dict.items()}
    return state_dict


def load_state_dict_safely(module, path, what='teacher checkpoint'):
    """Load ``path`` into ``module`` strictly (every key must match).

    Accepts a raw state dict or an mmengine checkpoint (``state_dict`` key);
    a ``module.`` prefix (DDP) is stripped.

    Raises:
        ValueError: missing / unexpected keys (listed) or shape mismatches.
    """
    ckpt = safe_torch_load(path, what)
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) \
        else None
    if not isinstance(state_dict, dict):
        raise ValueError(f'{what} {path} holds no state dict')
    state_dict = _strip_prefix(state_dict, 'module.')
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise ValueError(
            f'{what} {path} does not match the model: '
            f'{len(missing)} missing keys {_short(missing)}, '
            f'{len(unexpected)} unexpected keys {_short(unexpected)}')
    wrong = [f'{k}: file {tuple(state_dict[k].shape)} vs model '
             f'{tuple(v.shape)}' for k, v in own.items()
             if hasattr(state_dict[k], 'shape')
             and tuple(state_dict[k].shape) != tuple(v.shape)]
    if wrong:
        raise ValueError(f'{what} {path} has shape mismatches: '
                         f'{_short(wrong)}')
    module.load_state_dict(state_dict, strict=True)
    return ckpt


def _short(items, limit=8):
    items = list(items)
    more = f' ... (+{len(items) - limit} more)' if len(items) > limit else ''
    return '[' + ', '.join(items[:limit]) + ']' + more
