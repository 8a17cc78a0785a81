"""Attention-based fusion (ABF) and the ReviewKD student-side connector
(Chen et al., "Distilling Knowledge via Knowledge Review", CVPR 2021)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nd_mmdet.registry import MODELS


@MODELS.register_module()
class ABF(nn.Module):
    """Fuse one student level with the residual coming from deeper levels.

    ``x = BN(conv1x1(feat))`` (``in -> mid``); if ``fuse``:
    ``r = nearest_upsample(residual, x.shape[-2:])``,
    ``a = sigmoid(conv1x1([x, r]))`` (``2*mid -> 2``),
    ``x = x * a[:, 0:1] + r * a[:, 1:2]``; if ``out_shape`` is given and
    differs from ``x``'s size, ``x = nearest_upsample(x, out_shape)`` (a
    student level smaller than the teacher's, as in ReviewKD); then
    ``y = BN(conv3x3(x))`` (``mid -> out``). Returns ``(y, x)``: ``y`` is
    compared with the teacher, ``x`` is the residual for the next shallower
    level. The deepest level is built with ``fuse=False`` (no residual).
    Conv weights of the two conv+BN blocks use ``kaiming_uniform_(a=1)``.

    Shapes:
        feat ``(N, in, H, W)``, residual ``(N, mid, h, w)`` (any ``h, w``)
        -> y ``(N, out, H', W')``, x ``(N, mid, H', W')`` with
        ``(H', W') = out_shape`` or ``(H, W)``.
    """

    def __init__(self, in_channels: int, mid_channels: int,
                 out_channels: int, fuse: bool = True,
                 out_shape: Optional[Sequence[int]] = None):
        super().__init__()
        self.in_channels = in_channels
        if isinstance(out_shape, int):
            out_shape = (out_shape, out_shape)
        self.out_shape = tuple(out_shape) if out_shape is not None else None
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, 1, bias=False),
            nn.BatchNorm2d(mid_channels))
        self.conv2 = nn.Sequential(
            nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels))
        self.att_conv = nn.Sequential(
            nn.Conv2d(2 * mid_channels, 2, 1), nn.Sigmoid()) if fuse else None
        nn.init.kaiming_uniform_(self.conv1[0].weight, a=1)
        nn.init.kaiming_uniform_(self.conv2[0].weight, a=1)

    def forward(self, feat: Tensor,
                residual: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        if feat.dim() != 4 or feat.shape[1] != self.in_channels:
            raise ValueError(f'feat must have shape (N, {self.in_channels}, '
                             f'H, W), got {tuple(feat.shape)}')
        if (residual is None) != (self.att_conv is None):
            raise ValueError(
                'residual must be given iff the ABF was built with fuse=True '
                f'(fuse={self.att_conv is not None}, residual '
                f'{None if residual is None else tuple(residual.shape)})')
        x = self.conv1(feat)
        if residual is not None:
            residual = F.interpolate(residual, size=x.shape[-2:],
                                     mode='nearest')
            att = self.att_conv(torch.cat([x, residual], dim=1))
            x = x * att[:, 0:1] + residual * att[:, 1:2]
        if self.out_shape is not None and tuple(x.shape[-2:]) != \
                self.out_shape:
            x = F.interpolate(x, size=self.out_shape, mode='nearest')
        return self.conv2(x), x


@MODELS.register_module()
class ReviewKDConnector(nn.Module):
    """ReviewKD review path over the student's multi-level features.

    Level ``i`` gets ``ABF(in_channels[i], mid_channels, out_channels[i])``;
    the deepest (last) level has no residual, every shallower level fuses the
    residual of the level below it. Levels are processed deepest to
    shallowest, and the outputs are returned in the input order.

    Args:
        in_channels (list[int]): student widths, shallow -> deep.
        out_channels (list[int]): teacher widths, same order and length.
        mid_channels (int): width of the fused residual path.
        out_shapes (list, optional): the teacher's spatial size per level
            (int or ``(H, W)``; None entries keep the student's size). A
            student level smaller than the teacher's is upsampled (nearest)
            after fusion, as ReviewKD does for ShuffleNet / MobileNet.

    Shapes:
        feats: list of ``(N, in_channels[i], H_i, W_i)``, shallow -> deep
        -> list of ``(N, out_channels[i], H'_i, W'_i)``, shallow -> deep,
        with ``(H'_i, W'_i) = out_shapes[i]`` or ``(H_i, W_i)``.
    """

    def __init__(self, in_channels: Sequence[int],
                 out_channels: Sequence[int], mid_channels: int,
                 out_shapes: Optional[Sequence] = None):
        super().__init__()
        if len(in_channels) != len(out_channels) or not in_channels:
            raise ValueError(
                'in_channels and out_channels must be non-empty lists of the '
                f'same length, got {list(in_channels)} and '
                f'{list(out_channels)}')
        self.in_channels = list(in_channels)
        self.out_channels = list(out_channels)
        if out_shapes is None:
            out_shapes = [None] * len(in_channels)
        if len(out_shapes) != len(in_channels):
            raise ValueError(
                f'out_shapes must have one entry per level '
                f'({len(in_channels)}), got {list(out_shapes)}')
        last = len(in_channels) - 1
        self.abfs = nn.ModuleList(
            ABF(c_in, mid_channels, c_out, fuse=i < last, out_shape=shape)
            for i, (c_in, c_out, shape) in enumerate(
                zip(in_channels, out_channels, out_shapes)))

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        if not isinstance(feats, (list, tuple)) or \
                len(feats) != len(self.abfs):
            n = len(feats) if isinstance(feats, (list, tuple)) else None
            raise ValueError(f'feats must be a list of {len(self.abfs)} '
                             f'feature maps (one per level), got length {n}')
        outs = [None] * len(feats)
        residual = None
        for i in range(len(feats) - 1, -1, -1):
            outs[i], residual = self.abfs[i](feats[i], residual)
        return outs
