"""PKD: feature distillation by Pearson correlation (Cao et al.,
arXiv 2207.02039)."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nd_mmdet.registry import MODELS
from ._validate import check_loss_weight, sum_over_levels

EPS = 1e-6


def pkd_norm(x: Tensor, eps: float = EPS) -> Tensor:
    r"""Normalise each channel of ``x`` ``(N, C, H, W)`` over ``(N, H, W)``.

    .. math::

        \hat x_{nchw} = \frac{x_{nchw} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}},
        \quad \mu_c = \frac{1}{NHW} \sum_{n,h,w} x_{nchw}, \quad
        \sigma_c^2 = \frac{1}{NHW} \sum_{n,h,w} (x_{nchw} - \mu_c)^2

    Population variance (divided by ``N*H*W``), ``eps`` added to the
    *variance* inside the square root. A constant channel (``sigma_c = 0``)
    maps to exactly 0, with a finite gradient (``eps`` on the std instead
    would leave ``d sigma / d x = 0/0`` in the backward pass).
    """
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    return (x - mean) / (var + eps).sqrt()


def pkd_level(s: Tensor, t: Tensor, eps: float = EPS) -> Tensor:
    r"""PKD of one level, ``s`` and ``t`` of shape ``(N, C, H, W)``.

    .. math::

        L = \frac{1}{2} \, \mathrm{MSE}(\hat s, \hat t)
          = \frac{1}{2 N C H W} \sum_{n,c,h,w}
            (\hat s_{nchw} - \hat t_{nchw})^2
          = \frac{1}{C} \sum_c (1 - r_c) \quad (\epsilon \to 0)

    with ``\hat x`` from :func:`pkd_norm` and ``r_c`` the Pearson
    correlation of channel ``c`` of ``s`` and ``t`` over its ``N*H*W``
    values (each normalised channel has mean 0 and mean square
    ``sigma^2 / (sigma^2 + eps)``, i.e. 1 up to ``eps``). Range ``[0, 2]``.
    A constant channel normalises to 0, so a channel constant in both maps
    contributes 0 and a channel constant in only one map contributes
    ``0.5 * sigma^2 / (sigma^2 + eps)`` of the other, i.e. 0.5 (not NaN).
    An empty level (``N*H*W = 0``) gives 0.
    """
    if s.numel() == 0:
        return s.sum()
    return F.mse_loss(pkd_norm(s, eps), pkd_norm(t, eps)) / 2


@MODELS.register_module()
class PKDLoss(nn.Module):
    r"""Sum over feature levels of the per-level PKD (see
    :func:`pkd_level`).

    .. math::

        L = \sum_k \frac{1}{2} \mathrm{MSE}(\hat s_k, \hat t_k)
          \approx \sum_k \frac{1}{C_k} \sum_c (1 - r_{k,c})

    where ``\hat x`` normalises every channel to zero mean and unit
    population variance over ``(N, H, W)`` (``eps = 1e-6`` added to the
    variance) and ``r_{k,c}`` is the Pearson correlation of channel ``c`` of
    level ``k``. The loss is invariant to a per-channel affine change of
    either map (positive scale), so it ignores magnitude differences between
    student and teacher FPN features. Teacher maps are detached;
    float16 / bfloat16 maps are computed in float32.

    Args:
        loss_weight (float): multiplier of the returned loss (finite,
            ``>= 0``).

    Shapes:
        student_feats: list of ``(N, C_k, H_k, W_k)``; teacher_feats: a list
        of the same length and the same shape per level; returns a scalar
        (``loss_weight * L``).
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        check_loss_weight(loss_weight)
        self.loss_weight = loss_weight

    def forward(self, student_feats: Sequence[Tensor],
                teacher_feats: Sequence[Tensor]) -> Tensor:
        return self.loss_weight * sum_over_levels(pkd_level, student_feats,
                                                  teacher_feats)
