"""Vanilla knowledge distillation loss (Hinton et al., 2015)."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nd_mmdet.registry import MODELS
from ._validate import (check_logits, check_loss_weight, check_positive,
                        upcast)


@MODELS.register_module()
class KDLoss(nn.Module):
    r"""Temperature-scaled KL divergence from the teacher's to the student's
    class distribution.

    .. math::

        L = \frac{T^2}{N} \sum_i \sum_c p^t_{ic}
            (\log p^t_{ic} - \log p^s_{ic}),
        \qquad p = \mathrm{softmax}(z / T)

    Both log-distributions come from ``log_softmax`` (no ``log(0)``).
    The teacher logits are detached. float16 / bfloat16 logits are computed
    in float32.

    Args:
        temperature (float): soft-max temperature ``T`` (> 0).
        loss_weight (float): multiplier of the returned loss.

    Shapes:
        student_logits ``(N, C)``, teacher_logits ``(N, C)``;
        returns a scalar (``loss_weight * L``).
    """

    def __init__(self, temperature: float = 4.0, loss_weight: float = 1.0):
        super().__init__()
        check_positive('temperature', temperature)
        check_loss_weight(loss_weight)
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, student_logits: Tensor,
                teacher_logits: Tensor) -> Tensor:
        check_logits(student_logits, teacher_logits)
        s, t = upcast(student_logits, teacher_logits.detach())
        if s.shape[0] == 0:
            return s.sum() * self.loss_weight
        T = self.temperature
        log_ps = F.log_softmax(s / T, dim=1)
        log_pt = F.log_softmax(t / T, dim=1)
        kl = F.kl_div(log_ps, log_pt, reduction='none', log_target=True)
        return self.loss_weight * T**2 * kl.sum(dim=1).mean()
