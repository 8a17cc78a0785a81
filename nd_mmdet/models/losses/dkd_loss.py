"""Decoupled knowledge distillation loss (Zhao et al., CVPR 2022)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nd_mmdet.registry import MODELS
from ._validate import (check_labels, check_logits, check_loss_weight,
                        check_non_negative, check_positive, upcast)


def _binary_log_probs(logits: Tensor, gt_mask: Tensor) -> Tensor:
    """``log [p_gt, 1 - p_gt]`` of ``softmax(logits)``, shape ``(N, 2)``.

    ``log(1 - p_gt)`` is ``logsumexp`` over the non-target logits minus
    ``logsumexp`` over all logits, so it stays finite even where ``p_gt``
    rounds to 1 (the naive ``log(1 - p_gt)`` would be ``-inf``).
    """
    log_z = torch.logsumexp(logits, dim=1)
    log_gt = logits.masked_select(gt_mask) - log_z
    log_other = torch.logsumexp(logits.masked_fill(gt_mask, float('-inf')),
                                dim=1) - log_z
    return torch.stack([log_gt, log_other], dim=1)


@MODELS.register_module()
class DKDLoss(nn.Module):
    r"""Decoupled KD: target-class (TCKD) and non-target-class (NCKD) parts.

    With ``p = softmax(z / T)``, ``b = [p_gt, 1 - p_gt]`` and
    ``q = softmax(z / T - 1000 * onehot(y))``:

    .. math::

        TCKD = \frac{T^2}{N} \sum_i KL(b^t_i \,\|\, b^s_i), \quad
        NCKD = \frac{T^2}{N} \sum_i KL(q^t_i \,\|\, q^s_i), \quad
        L = \alpha \, TCKD + \beta \, NCKD

    All logs are taken in log space (``log_softmax`` / ``logsumexp``) in at
    least float32, so float16 / bfloat16 logits and over-confident
    predictions give finite values. The teacher logits are detached.
    :meth:`parts` returns ``(TCKD, NCKD)`` unweighted.

    Args:
        alpha (float): TCKD weight. beta (float): NCKD weight.
        temperature (float): soft-max temperature ``T`` (> 0).
        loss_weight (float): multiplier of the returned loss.

    Shapes:
        student_logits ``(N, C)`` with ``C >= 2``, teacher_logits ``(N, C)``,
        labels ``(N,)`` integer in ``[0, C)``; returns a scalar.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 8.0,
                 temperature: float = 4.0, loss_weight: float = 1.0):
        super().__init__()
        check_non_negative('alpha', alpha)
        check_non_negative('beta', beta)
        check_positive('temperature', temperature)
        check_loss_weight(loss_weight)
        self.alpha = alpha
        self.beta = beta
        self.temperature = temperature
        self.loss_weight = loss_weight

    def parts(self, student_logits: Tensor, teacher_logits: Tensor,
              labels: Tensor):
        """Return the unweighted ``(TCKD, NCKD)`` scalars."""
        check_logits(student_logits, teacher_logits)
        if student_logits.shape[1] < 2:
            raise ValueError('student_logits must have C >= 2 classes for '
                             'DKD, got shape '
                             f'{tuple(student_logits.shape)}')
        check_labels(labels, student_logits.shape[0],
                     student_logits.shape[1], classes_from='student_logits')
        s, t = upcast(student_logits, teacher_logits.detach())
        if s.shape[0] == 0:
            zero = s.sum()
            return zero, zero
        T = self.temperature
        s, t = s / T, t / T
        gt_mask = F.one_hot(labels.long(), s.shape[1]).bool()

        def kl(log_ps, log_pt):
            return F.kl_div(log_ps, log_pt, reduction='none',
                            log_target=True).sum(dim=1).mean() * T**2

        tckd = kl(_binary_log_probs(s, gt_mask), _binary_log_probs(t, gt_mask))
        shift = 1000.0 * gt_mask.to(s.dtype)
        nckd = kl(F.log_softmax(s - shift, dim=1),
                  F.log_softmax(t - shift, dim=1))
        return tckd, nckd

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                labels: Tensor) -> Tensor:
        tckd, nckd = self.parts(student_logits, teacher_logits, labels)
        return self.loss_weight * (self.alpha * tckd + self.beta * nckd)
