"""Projector from the student's embedding width to the teacher's."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nd_mmdet.registry import MODELS


@MODELS.register_module()
class EmbeddingProjector(nn.Module):
    """``BatchNorm1d(in) -> Dropout(p) -> Linear(in, out)``.

    Maps the student's penultimate embedding to the teacher's width before
    the ND loss (only that embedding; the student's logits come from its own
    classifier).

    Args:
        in_channels (int): student embedding width ``D_s``.
        out_channels (int): teacher embedding width ``D_t``.
        dropout (float): dropout probability.

    Shapes:
        input ``(N, D_s)`` -> output ``(N, D_t)``.

    A training batch of fewer than 2 rows has no batch statistics (a dense
    detector's batch may hold a single positive prior, or none): its rows
    are normalised with the running statistics, which it leaves unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 dropout: float = 0.5):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.bn = nn.BatchNorm1d(in_channels)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'x must have shape (N, {self.in_channels}), '
                             f'got {tuple(x.shape)}')
        if self.training and x.shape[0] < 2:
            bn = self.bn
            normed = F.batch_norm(x, bn.running_mean, bn.running_var,
                                  bn.weight, bn.bias, False, 0.0, bn.eps)
        else:
            normed = self.bn(x)
        return self.fc(self.dropout(normed))
