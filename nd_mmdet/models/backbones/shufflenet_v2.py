"""ShuffleNet V2 for 32x32 inputs, the CRD ``ShuffleV2`` student."""
from typing import Iterator, Optional

import torch
import torch.nn as nn

from nd_mmdet.registry import MODELS
from .base_backbone import BaseCifarBackbone, OutIndices
from .shufflenet_v1 import channel_shuffle


def conv_bn(in_channels: int, out_channels: int, kernel_size: int,
            stride: int = 1, groups: int = 1, relu: bool = True):
    layers = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False),
        nn.BatchNorm2d(out_channels)
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DownUnit(nn.Module):
    """Stride-2 unit. Left: 3x3 dw(s2)-BN, 1x1-BN-ReLU. Right: 1x1-BN-ReLU,
    3x3 dw(s2)-BN, 1x1-BN-ReLU. Concatenate (each half ``out/2``), shuffle."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        mid = out_channels // 2
        self.left = nn.Sequential(
            conv_bn(in_channels, in_channels, 3, 2, in_channels, relu=False),
            conv_bn(in_channels, mid, 1))
        self.right = nn.Sequential(
            conv_bn(in_channels, mid, 1),
            conv_bn(mid, mid, 3, 2, mid, relu=False), conv_bn(mid, mid, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([self.left(x), self.right(x)], dim=1)
        return channel_shuffle(out, 2)


class BasicUnit(nn.Module):
    """Stride-1 unit: split channels in half, pass one half through
    1x1-BN-ReLU, 3x3 dw-BN, 1x1-BN-ReLU, concatenate with the other half,
    shuffle."""

    def __init__(self, channels: int):
        super().__init__()
        self.split = channels // 2
        half = channels - self.split
        self.branch = nn.Sequential(
            conv_bn(half, half, 1),
            conv_bn(half, half, 3, 1, half, relu=False),
            conv_bn(half, half, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep, transform = x[:, :self.split], x[:, self.split:]
        out = torch.cat([keep, self.branch(transform)], dim=1)
        return channel_shuffle(out, 2)


@MODELS.register_module()
class CifarShuffleNetV2(BaseCifarBackbone):
    """ShuffleNet V2 for CIFAR, defaults = CRD ShuffleV2 (net_size 1).

    A 1x1 conv-BN-ReLU stem to 24 channels (no stride, no pool), three stages
    of one stride-2 unit plus (3, 7, 3) stride-1 units, then a 1x1 conv-BN-ReLU
    head. The outputs are the three stages and the head (4 "stages").

    =========  ==========================  =========
    net_size   stage_channels              embed_dim
    =========  ==========================  =========
    0.5        48, 96, 192, 1024           1024
    1          116, 232, 464, 1024         1024
    1.5        176, 352, 704, 1024         1024
    2          244, 488, 976, 2048         2048
    =========  ==========================  =========

    net_size 1 has 1.36M params with a 100-way linear head.

    Args:
        net_size: one of :attr:`net_settings`.
        out_indices: outputs to return (0..3, negatives count from the
            end). Defaults to the last one (the head map).
        init_cfg: mmengine init config applied by ``init_weights()``.

    Input ``(N, 3, 32, 32)``; outputs (net_size 1) ``(N, 116, 16, 16)``,
    ``(N, 232, 8, 8)``, ``(N, 464, 4, 4)``, ``(N, 1024, 4, 4)``.
    """

    net_settings = {
        0.5: (48, 96, 192, 1024),
        1: (116, 232, 464, 1024),
        1.5: (176, 352, 704, 1024),
        2: (244, 488, 976, 2048),
    }
    num_blocks = (3, 7, 3)
    stem_channels = 24

    def __init__(self,
                 net_size: float = 1,
                 out_indices: OutIndices = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if net_size not in self.net_settings:
            raise ValueError('CifarShuffleNetV2 net_size must be one of '
                             f'{sorted(self.net_settings)}, got {net_size!r}')
        self.net_size = net_size
        channels = self.net_settings[net_size]
        self.conv1 = conv_bn(3, self.stem_channels, 1)
        in_channels = self.stem_channels
        for i, (width, n) in enumerate(zip(channels[:3], self.num_blocks)):
            units = [DownUnit(in_channels, width)]
            units += [BasicUnit(width) for _ in range(n)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*units))
            in_channels = width
        self.conv2 = conv_bn(in_channels, channels[3], 1)

        self._setup_outputs(channels, out_indices)
        self._init_conv_bn()

    def forward_stages(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        x = self.conv1(x)
        for layer in (self.layer1, self.layer2, self.layer3):
            x = layer(x)
            yield x
        yield self.conv2(x)
