"""Channel-wise distillation (CWD) for dense prediction (Shu et al.,
arXiv 2011.13256)."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nd_mmdet.registry import MODELS
from ._validate import check_loss_weight, check_positive, sum_over_levels
from .pkd_loss import pkd_norm


def cwd_level(s: Tensor, t: Tensor, tau: float) -> Tensor:
    r"""CWD of one level, ``s`` and ``t`` of shape ``(N, C, H, W)``.

    .. math::

        L = \frac{\tau^2}{N C} \sum_{n,c} \sum_{j=1}^{HW} p^t_{ncj}
            (\log p^t_{ncj} - \log p^s_{ncj}),
        \qquad p_{nc} = \mathrm{softmax}(x_{nc} / \tau)

    where the soft-max of image ``n``, channel ``c`` runs over its ``H*W``
    positions ``j``. Both log-distributions come from ``log_softmax`` and
    a term with ``p^t = 0`` (e.g. a ``-inf`` teacher activation) is 0, not
    NaN. All ``(n, c)`` pairs are computed at once. An empty level
    (``N*C = 0``) gives 0.
    """
    if s.shape[0] * s.shape[1] == 0:
        return s.sum()
    log_ps = F.log_softmax(s.flatten(2) / tau, dim=2)      # (N, C, H*W)
    log_pt = F.log_softmax(t.flatten(2) / tau, dim=2)
    pt = log_pt.exp()
    kl = torch.where(pt > 0, pt * (log_pt - log_ps), torch.zeros_like(pt))
    return tau**2 * kl.sum(dim=2).mean()


@MODELS.register_module()
class CWDLoss(nn.Module):
    r"""Sum over feature levels of the per-level CWD (see
    :func:`cwd_level`).

    .. math::

        L = \sum_k \frac{\tau^2}{N C_k} \sum_{n,c}
            \mathrm{KL}\big(\mathrm{softmax}(t_{k,nc} / \tau) \,\Vert\,
            \mathrm{softmax}(s_{k,nc} / \tau)\big)

    Each channel of each image is turned into a distribution over its
    ``H_k * W_k`` positions; the student matches where the teacher's
    channel activates most. Teacher maps are detached; float16 / bfloat16
    maps are computed in float32.

    With ``normalize=True`` both maps are first standardised per channel
    over ``(N, H, W)`` (:func:`~.pkd_loss.pkd_norm`, PKD's normalisation):
    RTMDet's distillation recipe, where it is done by BatchNorm layers
    without affine parameters or running statistics on both sides. The
    loss then ignores a per-channel scale and shift of either map.

    Args:
        tau (float): soft-max temperature (> 0).
        loss_weight (float): multiplier of the returned loss (finite,
            ``>= 0``).
        normalize (bool): standardise each channel first (default False).

    Shapes:
        student_feats: list of ``(N, C_k, H_k, W_k)``; teacher_feats: a list
        of the same length and the same shape per level; returns a scalar
        (``loss_weight * L``).
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0,
                 normalize: bool = False):
        super().__init__()
        check_positive('tau', tau)
        check_loss_weight(loss_weight)
        self.tau = tau
        self.loss_weight = loss_weight
        self.normalize = bool(normalize)

    def forward(self, student_feats: Sequence[Tensor],
                teacher_feats: Sequence[Tensor]) -> Tensor:
        return self.loss_weight * sum_over_levels(self._level, student_feats,
                                                  teacher_feats)

    def _level(self, s: Tensor, t: Tensor) -> Tensor:
        if self.normalize and s.numel():
            s, t = pkd_norm(s), pkd_norm(t)
        return cwd_level(s, t, self.tau)
