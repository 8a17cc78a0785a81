"""Shared input checks and dtype handling for the distillation losses.

Every check raises :class:`ValueError` whose message names the offending
argument and the shapes involved, so a wrongly wired config fails at the
first forward with a readable message instead of a broadcasting error (or,
worse, a silently broadcast loss).
"""
import math
import numbers
from typing import Callable, Sequence, Tuple

import torch
from torch import Tensor

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def upcast(*tensors: Tensor) -> Tuple[Tensor, ...]:
    """Return ``tensors`` in the dtype the loss math runs in.

    float16 / bfloat16 inputs are promoted to float32 (norms, soft-max and
    sums of squares overflow or lose too much precision in half precision);
    float32 / float64 are left as they are (float64 keeps ``gradcheck``
    exact). All outputs share one dtype: the widest floating dtype among the
    inputs after the promotion.
    """
    dtype = torch.float32
    for t in tensors:
        if t.dtype == torch.float64:
            dtype = torch.float64
    return tuple(t.to(dtype) for t in tensors)


def check_ndim(name: str, x: Tensor, ndim: int, layout: str) -> None:
    """``x`` must be a floating tensor with ``ndim`` dims (``layout``,
    e.g. ``'(N, D)'``, is only used in the message)."""
    if not isinstance(x, Tensor):
        raise ValueError(f'{name} must be a torch.Tensor of shape {layout}, '
                         f'got {type(x).__name__}')
    if x.dim() != ndim:
        raise ValueError(f'{name} must have shape {layout}, got '
                         f'{tuple(x.shape)}')
    if not x.is_floating_point():
        raise ValueError(f'{name} must be a floating tensor, got {x.dtype}')


def check_same_shape(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """``a`` and ``b`` must have identical shapes."""
    if a.shape != b.shape:
        raise ValueError(f'{name_a} and {name_b} must have the same shape, '
                         f'got {tuple(a.shape)} and {tuple(b.shape)}')


def check_logits(student_logits: Tensor, teacher_logits: Tensor) -> None:
    """Both logits ``(N, C)`` floating tensors of the same shape."""
    check_ndim('student_logits', student_logits, 2, '(N, C)')
    check_ndim('teacher_logits', teacher_logits, 2, '(N, C)')
    check_same_shape('student_logits', student_logits, 'teacher_logits',
                     teacher_logits)


def check_labels(labels: Tensor, num_samples: int,
                 num_classes: int = None,
                 classes_from: str = 'class_centers') -> None:
    """``labels`` must be a 1-D integer tensor of length ``num_samples``
    with values in ``[0, num_classes)`` (range check skipped when
    ``num_classes`` is None). ``classes_from`` names the argument that
    defines the number of classes, for the message."""
    if not isinstance(labels, Tensor):
        raise ValueError('labels must be a 1-D integer torch.Tensor, got '
                         f'{type(labels).__name__}')
    if labels.dim() != 1 or labels.is_floating_point() or \
            labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError('labels must be a 1-D integer tensor of shape (N,), '
                         f'got shape {tuple(labels.shape)} dtype '
                         f'{labels.dtype}')
    if labels.numel() != num_samples:
        raise ValueError(f'labels must have N={num_samples} entries (one per '
                         f'sample), got shape {tuple(labels.shape)}')
    if num_classes is not None and labels.numel() > 0:
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f'labels must lie in [0, {num_classes - 1}] (the {num_classes}'
                f' classes of {classes_from}), got values in [{lo}, {hi}]')


def check_feature_lists(student_feats: Sequence[Tensor],
                        teacher_feats: Sequence[Tensor]) -> None:
    """Two equally long, non-empty lists of ``(N, C, H, W)`` maps whose
    shapes agree level by level."""
    for name, feats in (('student_feats', student_feats),
                        ('teacher_feats', teacher_feats)):
        if not isinstance(feats, (list, tuple)):
            raise ValueError(f'{name} must be a list of (N, C, H, W) tensors,'
                             f' got {type(feats).__name__}')
    if len(student_feats) != len(teacher_feats) or not student_feats:
        raise ValueError('student_feats and teacher_feats must be non-empty '
                         'lists of the same length, got lengths '
                         f'{len(student_feats)} and {len(teacher_feats)}')
    for i, (s, t) in enumerate(zip(student_feats, teacher_feats)):
        check_ndim(f'student_feats[{i}]', s, 4, '(N, C, H, W)')
        check_ndim(f'teacher_feats[{i}]', t, 4, '(N, C, H, W)')
        if s.shape != t.shape:
            raise ValueError(
                f'level {i}: student_feats[{i}] and teacher_feats[{i}] must '
                f'have the same shape, got {tuple(s.shape)} and '
                f'{tuple(t.shape)}')


def _is_finite_real(value) -> bool:
    """A real number (not a bool, not a string) that is neither NaN nor
    infinite."""
    return not isinstance(value, bool) and \
        isinstance(value, numbers.Real) and math.isfinite(value)


def check_positive(name: str, value: float) -> None:
    """Hyper-parameters such as a temperature or an ``eps`` must be finite
    real numbers ``> 0`` (``T <= 0`` flips or divides by zero, ``T = inf``
    flattens every soft-max to uniform)."""
    if not _is_finite_real(value) or not value > 0:
        raise ValueError(f'{name} must be a finite number > 0, got '
                         f'{value!r}')


def check_non_negative(name: str, value: float) -> None:
    """Weights (``loss_weight``, DKD's ``alpha`` / ``beta``, DIST's ``beta``
    / ``gamma``) must be finite real numbers ``>= 0``: a negative weight
    turns the loss into one the optimiser maximises."""
    if not _is_finite_real(value) or value < 0:
        raise ValueError(f'{name} must be a finite number >= 0, got '
                         f'{value!r}')


def check_loss_weight(loss_weight: float) -> None:
    """``loss_weight`` must be a finite real number ``>= 0``."""
    check_non_negative('loss_weight', loss_weight)


def sum_over_levels(level_loss: Callable[[Tensor, Tensor], Tensor],
                    student_feats: Sequence[Tensor],
                    teacher_feats: Sequence[Tensor]) -> Tensor:
    """``sum_k level_loss(s_k, t_k)`` over feature levels, after
    :func:`check_feature_lists`; each teacher map is detached and each pair
    computed in the dtype of :func:`upcast`."""
    check_feature_lists(student_feats, teacher_feats)
    loss = 0.0
    for s, t in zip(student_feats, teacher_feats):
        s, t = upcast(s, t.detach())
        loss = loss + level_loss(s, t)
    return loss
