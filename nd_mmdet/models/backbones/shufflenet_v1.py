"""ShuffleNet V1 for 32x32 inputs, the CRD ``ShuffleV1`` student."""
from typing import Iterator, Optional, Sequence

import torch
import torch.nn as nn

from nd_mmdet.registry import MODELS
from .base_backbone import BaseCifarBackbone, OutIndices


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(N, g*c, H, W) -> interleave the g groups of c channels."""
    if groups == 1:
        return x
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(
        n, c, h, w)


class ShuffleUnit(nn.Module):
    """1x1 group conv-BN-ReLU, channel shuffle, 3x3 depthwise(stride)-BN-ReLU,
    1x1 group conv-BN; then add the input (stride 1) or concatenate a 3x3
    stride-2 average-pooled input (stride 2), and ReLU.

    ``out_channels`` is the width of the conv branch; with stride 2 the unit
    outputs ``out_channels + in_channels``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 groups: int, group_first_conv: bool = True):
        super().__init__()
        mid = out_channels // 4
        self.stride = stride
        self.first_groups = groups if group_first_conv else 1
        self.conv1 = nn.Conv2d(
            in_channels, mid, 1, groups=self.first_groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(
            mid, mid, 3, stride=stride, padding=1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.pool = (
            nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = channel_shuffle(out, self.first_groups)
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.pool is not None:
            out = torch.cat([out, self.pool(x)], dim=1)
        else:
            out = out + x
        return self.relu(out)


@MODELS.register_module()
class CifarShuffleNetV1(BaseCifarBackbone):
    """ShuffleNet V1 for CIFAR, defaults = CRD ShuffleV1 (g = 3).

    A 1x1 conv-BN-ReLU stem to 24 channels (no stride, no pool), then three
    stages of shuffle units; each stage starts with a stride-2 concat unit.
    The first 1x1 conv of the very first unit is not grouped (24 inputs).

    Defaults: stage_channels (240, 480, 960), embed_dim 960, 0.95M params
    with a 100-way linear head.

    Args:
        out_planes: output width of each stage.
        num_blocks: units per stage.
        groups: groups of the 1x1 convs.
        out_indices: stages whose outputs are returned (0..2, negatives
            count from the end). Defaults to the last stage.
        init_cfg: mmengine init config applied by ``init_weights()``.

    Input ``(N, 3, 32, 32)``; stage outputs (post-ReLU) ``(N, 240, 16, 16)``,
    ``(N, 480, 8, 8)``, ``(N, 960, 4, 4)``.
    """

    stem_channels = 24

    def __init__(self,
                 out_planes: Sequence[int] = (240, 480, 960),
                 num_blocks: Sequence[int] = (4, 8, 4),
                 groups: int = 3,
                 out_indices: OutIndices = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if len(out_planes) != len(num_blocks) or not len(out_planes):
            raise ValueError('out_planes and num_blocks must be non-empty '
                             f'and of equal length, got {out_planes}, '
                             f'{num_blocks}')
        self.groups = groups
        self.conv1 = nn.Conv2d(3, self.stem_channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(self.stem_channels)
        self.relu = nn.ReLU(inplace=True)
        in_channels = self.stem_channels
        for i, (planes, n) in enumerate(zip(out_planes, num_blocks)):
            units = []
            for j in range(n):
                branch = planes - in_channels if j == 0 else planes
                units.append(
                    ShuffleUnit(
                        in_channels,
                        branch,
                        stride=2 if j == 0 else 1,
                        groups=groups,
                        group_first_conv=not (i == 0 and j == 0)))
                in_channels = planes
            self.add_module(f'layer{i + 1}', nn.Sequential(*units))
        self.num_layers = len(out_planes)

        self._setup_outputs(out_planes, out_indices)
        self._init_conv_bn()

    def forward_stages(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        for i in range(self.num_layers):
            x = getattr(self, f'layer{i + 1}')(x)
            yield x
