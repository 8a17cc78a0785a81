"""Loading teacher checkpoints and centre files without unpickling code.

Every file this toolkit reads that a user may have downloaded (teacher
checkpoints, class-centre files) goes through :func:`safe_torch_load`, i.e.
``torch.load(weights_only=True)`` plus the numpy types that mmengine writes in
checkpoint metadata (see :func:`_safe_globals`). A file that carries a
pickled callable is refused with an error naming the file, never executed.
"""
import hashlib
import os.path as osp
import pickle
import re
import struct
import zipfile

import torch


def _safe_globals():
    """Types allowed besides tensors and containers: the numpy types and
    mmengine's ``HistoryBuffer`` that mmengine writes into checkpoint
    metadata (mmengine's own allow-list). ``getattr`` is needed for numpy 2
    dtype pickles; the weights-only unpickler still refuses to call anything
    that is not itself allowed, so it cannot reach arbitrary code."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    np_core = getattr(np, '_core', None) or np.core
    allowed = [
        slice, getattr, np.ndarray, np.dtype, np_core.multiarray._reconstruct,
        np_core.multiarray.scalar, HistoryBuffer
    ]
    allowed += [type(np.dtype(t)) for t in
                ('float64', 'float32', 'int64', 'int32', 'uint32', 'bool',
                 'uint8')]
    return allowed


def safe_torch_load(path, what='checkpoint'):
    """``torch.load(path, weights_only=True)`` with clear errors.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is truncated / not a torch file, or it holds
            pickled objects other than tensors and plain containers.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    if osp.getsize(path) == 0:
        raise ValueError(f'{what} {path} is empty (0 bytes): an interrupted '
                         'write or copy; replace or delete it')
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'(?:Unsupported global: GLOBAL|unsupported '
                          r'GLOBAL) (\S+)', str(err))
        if not found:
            raise ValueError(
                f'{what} {path} cannot be read (not a torch file): '
                f'{_first_line(err)}') from err
        culprit = found.group(1)
        raise ValueError(
            f'{what} {path} holds a pickled object that weights_only loading '
            f'refuses ({culprit}); it is not loaded. Re-save the file with '
            'tensors and plain containers only') from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError,
            struct.error, ValueError, KeyError, IndexError) as err:
        raise ValueError(
            f'{what} {path} cannot be read (truncated or not a torch file): '
            f'{_first_line(err)}') from err


def _first_line(err):
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


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
