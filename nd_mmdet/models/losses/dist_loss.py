"""DIST: knowledge distillation from a stronger teacher (Huang et al.,
NeurIPS 2022)."""
import torch.nn as nn
from torch import Tensor

from nd_mmdet.registry import MODELS
from ._validate import (check_logits, check_loss_weight, check_non_negative,
                        check_positive, upcast)


def _mean_pearson(a: Tensor, b: Tensor, eps: float) -> Tensor:
    """Mean over rows of the Pearson correlation of ``a[i]`` and ``b[i]``.

    ``r_i = <a_i - mean(a_i), b_i - mean(b_i)> /
    (||a_i - mean(a_i)|| * ||b_i - mean(b_i)|| + eps)``; a constant row
    (zero variance) gives ``r_i = 0`` instead of ``0/0``.
    """
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    r = (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + eps)
    return r.mean()


@MODELS.register_module()
class DISTLoss(nn.Module):
    r"""Relation matching of the soft-max outputs by Pearson correlation.

    With ``Y = softmax(Z / tau)`` (rows = samples, columns = classes) and
    ``rho`` the mean Pearson correlation of corresponding rows:

    .. math::

        inter = 1 - \rho(Y^s, Y^t), \quad
        intra = 1 - \rho(Y^{s\top}, Y^{t\top}), \quad
        L = \tau^2 (\beta \, inter + \gamma \, intra)

    ``inter`` correlates each sample's class distribution, ``intra`` each
    class's scores across the batch. ``eps`` is added to the product of the
    norms of the centred vectors (as in the DIST paper code), so
    zero-variance rows are finite. Teacher logits are detached;
    float16 / bfloat16 are computed in float32. :meth:`parts` returns the
    unscaled ``(inter, intra)``.

    Args:
        beta (float): inter weight. gamma (float): intra weight.
        tau (float): soft-max temperature (> 0).
        loss_weight (float): multiplier of the returned loss.
        eps (float): denominator guard of the correlation.

    Shapes:
        student_logits ``(N, C)``, teacher_logits ``(N, C)``;
        returns a scalar.
    """

    def __init__(self, beta: float = 1.0, gamma: float = 1.0,
                 tau: float = 1.0, loss_weight: float = 1.0,
                 eps: float = 1e-8):
        super().__init__()
        check_non_negative('beta', beta)
        check_non_negative('gamma', gamma)
        check_positive('tau', tau)
        check_loss_weight(loss_weight)
        check_positive('eps', eps)
        self.beta = beta
        self.gamma = gamma
        self.tau = tau
        self.loss_weight = loss_weight
        self.eps = eps

    def parts(self, student_logits: Tensor, teacher_logits: Tensor):
        """Return the unscaled ``(inter, intra)`` scalars."""
        check_logits(student_logits, teacher_logits)
        s, t = upcast(student_logits, teacher_logits.detach())
        ys = (s / self.tau).softmax(dim=1)
        yt = (t / self.tau).softmax(dim=1)
        inter = 1.0 - _mean_pearson(ys, yt, self.eps)
        intra = 1.0 - _mean_pearson(ys.t(), yt.t(), self.eps)
        return inter, intra

    def forward(self, student_logits: Tensor,
                teacher_logits: Tensor) -> Tensor:
        inter, intra = self.parts(student_logits, teacher_logits)
        return self.loss_weight * self.tau**2 * (
            self.beta * inter + self.gamma * intra)
