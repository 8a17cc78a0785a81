"""Binary (per-class sigmoid) knowledge distillation loss for dense
detectors whose classifiers are K independent sigmoids (RetinaNet, FCOS,
GFL)."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nd_mmdet.registry import MODELS
from ._validate import (check_logits, check_loss_weight, check_positive,
                        upcast)


@MODELS.register_module()
class BinaryKDLoss(nn.Module):
    r"""KL divergence between the teacher's and the student's per-class
    Bernoulli distributions, summed over classes, mean over samples.

    .. math::

        L = \frac{T^2}{N} \sum_i \sum_c \Big[
            p^t_{ic} (\log p^t_{ic} - \log p^s_{ic})
            + (1 - p^t_{ic}) (\log(1 - p^t_{ic}) - \log(1 - p^s_{ic}))
            \Big], \qquad p = \sigma(z / T)

    The logs are ``logsigmoid(z / T)`` and ``logsigmoid(-z / T)`` (no
    ``log(0)`` for large logits). As in :class:`KDLoss`, the loss is scaled
    by ``T^2`` (gradient magnitude independent of ``T``; ``T = 1``, the
    default, leaves it unchanged). The teacher logits are detached.
    float16 / bfloat16 logits are computed in float32; zero samples give a
    zero loss (connected to the student's graph).

    Args:
        temperature (float): sigmoid temperature ``T`` (> 0).
        loss_weight (float): multiplier of the returned loss.

    Shapes:
        student_logits ``(N, K)``, teacher_logits ``(N, K)`` (class scores
        before the sigmoid); returns a scalar (``loss_weight * L``).
    """

    def __init__(self, temperature: float = 1.0, loss_weight: float = 1.0):
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
        s, t = s / T, t / T
        log_ps, log_qs = F.logsigmoid(s), F.logsigmoid(-s)
        log_pt, log_qt = F.logsigmoid(t), F.logsigmoid(-t)
        pt = log_pt.exp()
        kl = pt * (log_pt - log_ps) + (1.0 - pt) * (log_qt - log_qs)
        return self.loss_weight * T**2 * kl.sum(dim=1).mean()
