"""The teacher's preprocessing, from where it was trained.

A distiller runs the teacher on the student's preprocessed batch (or, in
the NeckDistiller, on that batch mapped to the preprocessing the config
states for the teacher: ``teacher_inputs.TeacherInputMap``). When that is
not the normalisation the teacher was trained with (another channel order:
``to_rgb`` / ``bgr_to_rgb``, another mean / std), the teacher sees other
inputs than in training and loses accuracy (seen: 75 % -> 50 % top-1), with
nothing said.

mmengine saves the training config's text in every checkpoint
(``meta.cfg``). :func:`trained_normalisation` reads the data preprocessor
from it (``model.data_preprocessor``, or MMPretrain's top-level
``data_preprocessor``) and :func:`check_teacher_preprocessing` compares it
with what the teacher is fed. A checkpoint without ``meta.cfg`` (converted
weights) or without a preprocessor there is not checked.

Normalisation is compared as ``mean``, ``std`` (None: not normalised),
``rgb`` (the channel flip: mmengine / MMDetection's ``bgr_to_rgb`` or
``rgb_to_bgr`` -> ``_channel_conversion``, MMPretrain's ``to_rgb``) and
``pad_value``.
"""
import torch

#: Tolerance of mean / std comparisons (configs write them with 3 decimals).
ATOL = 1e-3


def module_normalisation(preprocessor):
    """``dict(mean, std, rgb, pad_value)`` of a built data preprocessor."""
    enabled = getattr(preprocessor, '_enable_normalize', False)

    def values(name):
        value = getattr(preprocessor, name, None) if enabled else None
        return None if value is None else [
            round(float(v), 4) for v in value.flatten()]

    rgb = getattr(preprocessor, '_channel_conversion', None)
    if rgb is None:
        rgb = getattr(preprocessor, 'to_rgb', False)
    return dict(mean=values('mean'), std=values('std'), rgb=bool(rgb),
                pad_value=float(getattr(preprocessor, 'pad_value', 0) or 0))


def config_normalisation(cfg):
    """The same from a data preprocessor config dict (as the classes read
    it: ``mean`` / ``std`` None -> no normalisation)."""
    mean, std = cfg.get('mean'), cfg.get('std')
    normalise = mean is not None and std is not None
    rgb = bool(cfg.get('bgr_to_rgb') or cfg.get('rgb_to_bgr') or
               cfg.get('to_rgb'))
    return dict(
        mean=[round(float(v), 4) for v in mean] if normalise else None,
        std=[round(float(v), 4) for v in std] if normalise else None,
        rgb=rgb, pad_value=float(cfg.get('pad_value', 0) or 0))


def trained_normalisation(ckpt_path):
    """The normalisation of ``ckpt_path``'s ``meta.cfg`` (None when the
    checkpoint has no config or no data preprocessor in it)."""
    from mmengine.config import Config

    from .safe_load import _safe_globals
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            ckpt = torch.load(ckpt_path, map_location='cpu',
                              weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 (checked by the teacher's strict load)
        return None
    text = (ckpt.get('meta') or {}).get('cfg') if isinstance(ckpt,
                                                             dict) else None
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        cfg = Config.fromstring(text, '.py')
    except Exception as err:  # noqa: BLE001 (config of another stack)
        raise ValueError(
            f'teacher checkpoint {ckpt_path}: its meta.cfg (the config it '
            f'was trained with) cannot be read: {err}') from err
    model = cfg.get('model') or {}
    pre = model.get('data_preprocessor') if isinstance(model, dict) else None
    pre = pre or cfg.get('data_preprocessor')
    return config_normalisation(pre) if isinstance(pre, dict) else None


def _same(a, b):
    if a['rgb'] != b['rgb'] or a['pad_value'] != b['pad_value']:
        return False
    for key in ('mean', 'std'):
        if (a[key] is None) != (b[key] is None):
            return False
        if a[key] is not None and (len(a[key]) != len(b[key]) or any(
                abs(x - y) > ATOL for x, y in zip(a[key], b[key]))):
            return False
    return True


def _show(norm):
    return (f"mean={norm['mean']}, std={norm['std']}, channel flip "
            f"(to_rgb / bgr_to_rgb)={norm['rgb']}, "
            f"pad_value={norm['pad_value']:g}")


def check_teacher_preprocessing(ckpt_path, fed, fed_by):
    """The teacher of ``ckpt_path`` is fed images normalised as ``fed``
    (:func:`module_normalisation` of the preprocessor whose output it
    gets, named ``fed_by``) as in its training.

    Raises:
        ValueError: showing both normalisations.
    """
    trained = trained_normalisation(ckpt_path)
    if trained is None or _same(trained, fed):
        return
    raise ValueError(
        f'teacher checkpoint {ckpt_path} was trained with data_preprocessor '
        f'{_show(trained)} (its meta.cfg), but the teacher is fed images '
        f'preprocessed by {fed_by}: {_show(fed)}; make them equal (the '
        'teacher would see other inputs than in training)')
