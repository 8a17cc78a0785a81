"""Hierarchical context loss (HCL) of ReviewKD (Chen et al., CVPR 2021)."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nd_mmdet.registry import MODELS
from ._validate import check_loss_weight, sum_over_levels

POOL_SIZES = (4, 2, 1)


def hcl_level(s: Tensor, t: Tensor) -> Tensor:
    r"""HCL of one level, ``s`` and ``t`` of shape ``(N, C, H, W)``.

    .. math::

        L = \frac{MSE(s, t) + \sum_{j} w_j \, MSE(P_{l_j}(s), P_{l_j}(t))}
                 {1 + \sum_j w_j}, \qquad w_j = 2^{-j}

    where ``l_1 > l_2 > ...`` are the sizes of ``(4, 2, 1)`` strictly
    smaller than ``H`` and ``P_l`` is ``adaptive_avg_pool2d`` to ``(l, l)``.
    The weight halves per pooled level *used*, not per size: a 4x4 map pools
    to 2 (w 0.5) and 1 (w 0.25); an 8x8 map to 4, 2, 1 (0.5, 0.25, 0.125);
    a 1x1 map is plain MSE. This is what reproduces the reference values
    (4x4 ``arange(16)/16`` vs 0 -> 0.286133; weights tied to the size,
    ``w_2 = 0.25, w_1 = 0.125``, would give 0.292170). Only ``H`` (not
    ``W``) decides which sizes are used, as in ReviewKD.
    """
    loss = F.mse_loss(s, t)
    total, weight = 1.0, 1.0
    for size in POOL_SIZES:
        if size >= s.shape[2]:
            continue
        weight /= 2.0
        loss = loss + weight * F.mse_loss(F.adaptive_avg_pool2d(s, size),
                                          F.adaptive_avg_pool2d(t, size))
        total += weight
    return loss / total


@MODELS.register_module()
class HCLLoss(nn.Module):
    r"""Sum over feature levels of the per-level HCL (see :func:`hcl_level`).

    .. math::  L = \sum_{k} \mathrm{HCL}(s_k, t_k)

    Teacher maps are detached; float16 / bfloat16 maps are computed in
    float32.

    Args:
        loss_weight (float): multiplier of the returned loss.

    Shapes:
        student_feats: list of ``(N, C_k, H_k, W_k)``; teacher_feats: a list
        of the same length and the same shape per level; returns a scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        check_loss_weight(loss_weight)
        self.loss_weight = loss_weight

    def forward(self, student_feats: Sequence[Tensor],
                teacher_feats: Sequence[Tensor]) -> Tensor:
        return self.loss_weight * sum_over_levels(hcl_level, student_feats,
                                                  teacher_feats)
