"""Norm-and-Direction (ND) loss (Wang et al., arXiv 2305.17007)."""
import torch
import torch.nn as nn
from torch import Tensor

from nd_mmdet.registry import MODELS
from ._validate import (check_labels, check_loss_weight, check_ndim,
                        check_positive, check_same_shape, upcast)


@MODELS.register_module()
class NDLoss(nn.Module):
    r"""Pull the student embedding along the teacher's class-centre direction
    and its norm up to at least the teacher's norm.

    .. math::

        L = \frac{1}{N} \sum_i \Big[ 1 - \frac{\langle s_i, u_{y_i} \rangle}
            {\max(\lVert s_i \rVert, \lVert t_i \rVert)} \Big],
        \qquad u_k = c_k / \lVert c_k \rVert

    (a sample whose max norm is ``<= eps`` contributes exactly 1).

    When ``||s_i|| >= ||t_i||`` the term is ``1 - cos(s_i, u_{y_i})``
    (direction only); otherwise it also rewards a larger student norm.
    Range ``[0, 2]``. Computed for all samples at once (a gather of the
    ``N`` used centre directions, no loop over samples).

    The teacher embedding and the centres are constants of the loss: they
    are detached, so they need not (and do not) receive gradient.
    float16 / bfloat16 inputs are computed in float32 and the loss is
    returned in float32; float64 inputs stay float64.

    Args:
        loss_weight (float): multiplier of the returned loss.
        ignore_index (int, optional): samples with this label are left out
            of the mean (e.g. ``K``, the background RoIs of a two-stage
            detector, for ND on foreground RoIs only); a batch with no
            other sample gives 0 (with a zero gradient). None: every
            sample counts (the paper).
        eps (float): lower clamp of the max-norm denominator. A sample whose
            student and teacher norms are both ``<= eps`` (e.g. both zero)
            contributes exactly 1 with zero gradient, instead of ``0/0`` or
            an ``u/eps``-sized gradient (which would overflow in fp16).

    Shapes:
        student_embed ``(N, D)``, teacher_embed ``(N, D)``,
        labels ``(N,)`` integer in ``[0, K)``, class_centers ``(K, D)``;
        returns a scalar (``loss_weight * L``).
    """

    def __init__(self, loss_weight: float = 1.0, ignore_index=None,
                 eps: float = 1e-6):
        super().__init__()
        check_loss_weight(loss_weight)
        check_positive('eps', eps)
        if ignore_index is not None and (isinstance(ignore_index, bool) or
                                         not isinstance(ignore_index, int)):
            raise ValueError(f'ignore_index must be an int or None, got '
                             f'{ignore_index!r}')
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self.eps = eps

    def forward(self, student_embed: Tensor, teacher_embed: Tensor,
                labels: Tensor, class_centers: Tensor) -> Tensor:
        check_ndim('student_embed', student_embed, 2, '(N, D)')
        check_ndim('teacher_embed', teacher_embed, 2, '(N, D)')
        check_same_shape('student_embed', student_embed, 'teacher_embed',
                         teacher_embed)
        check_ndim('class_centers', class_centers, 2, '(K, D)')
        if class_centers.shape[1] != student_embed.shape[1]:
            raise ValueError(
                'class_centers must have the embedding width D='
                f'{student_embed.shape[1]} of student_embed '
                f'{tuple(student_embed.shape)}, got '
                f'{tuple(class_centers.shape)}')
        if self.ignore_index is not None:
            check_labels(labels, student_embed.shape[0])
            keep = labels != self.ignore_index
            student_embed, teacher_embed, labels = \
                student_embed[keep], teacher_embed[keep], labels[keep]
        check_labels(labels, student_embed.shape[0], class_centers.shape[0])

        s, t, c = upcast(student_embed, teacher_embed.detach(),
                         class_centers.detach())
        c_norm = torch.linalg.vector_norm(c, dim=1)
        zero = (c_norm == 0)[labels]
        if bool(zero.any()):
            bad = sorted(set(labels[zero].tolist()))
            raise ValueError(
                f'class_centers has zero-norm row(s) for class index {bad}, '
                'used by labels: the direction u_k = c_k/||c_k|| is undefined')
        if s.shape[0] == 0:
            return s.sum() * self.loss_weight
        # unused zero rows are divided by 1 (never gathered) to stay finite
        u = c / c_norm.masked_fill(c_norm == 0, 1.0).unsqueeze(1)   # (K, D)
        u = u[labels]                                               # (N, D)
        denom = torch.maximum(torch.linalg.vector_norm(s, dim=1),
                              torch.linalg.vector_norm(t, dim=1))   # (N,)
        cos = (s * u).sum(dim=1) / denom.clamp_min(self.eps)
        # both embeddings ~0: the direction is undefined -> term 1, no grad
        cos = torch.where(denom > self.eps, cos, torch.zeros_like(cos))
        return self.loss_weight * (1.0 - cos).mean()
