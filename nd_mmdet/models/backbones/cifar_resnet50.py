"""Bottleneck ResNets adapted to 32x32 inputs (the CRD ``ResNet50``)."""
from typing import Iterator, Optional

import torch
import torch.nn as nn

from nd_mmdet.registry import MODELS
from .base_backbone import BaseCifarBackbone, OutIndices
from .cifar_resnet import conv3x3


class Bottleneck(nn.Module):
    """1x1-3x3(stride)-1x1 bottleneck with 4x expansion, BN after each conv,
    projection shortcut (1x1 conv-BN) when the shape changes."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(
                    in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@MODELS.register_module()
class CifarResNet50(BaseCifarBackbone):
    """ImageNet-style bottleneck ResNet with a CIFAR stem: a 3x3 stride-1
    conv-BN-ReLU to 64 channels and no max-pool, then four stages of
    bottlenecks with planes 64, 128, 256, 512 (x4 expansion), strides
    1, 2, 2, 2.

    ResNet-50 (the default): embed_dim 2048, stage_channels
    (256, 512, 1024, 2048), 23.71M params with a 100-way linear head.

    Args:
        depth: 50, 101 or 152 (blocks per stage (3, 4, 6, 3),
            (3, 4, 23, 3), (3, 8, 36, 3)).
        out_indices: stages whose outputs are returned (0..3, negatives
            count from the end). Defaults to the last stage.
        init_cfg: mmengine init config applied by ``init_weights()``.

    Input ``(N, 3, 32, 32)``; stage outputs (post-ReLU) ``(N, 256, 32, 32)``,
    ``(N, 512, 16, 16)``, ``(N, 1024, 8, 8)``, ``(N, 2048, 4, 4)``.
    """

    depth_settings = {
        50: (3, 4, 6, 3),
        101: (3, 4, 23, 3),
        152: (3, 8, 36, 3),
    }

    def __init__(self,
                 depth: int = 50,
                 out_indices: OutIndices = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if depth not in self.depth_settings:
            raise ValueError(f'CifarResNet50 depth must be one of '
                             f'{sorted(self.depth_settings)}, got {depth!r}')
        self.depth = depth

        self.conv1 = conv3x3(3, 64)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        in_channels = 64
        stage_channels = []
        for i, (planes, num_blocks) in enumerate(
                zip((64, 128, 256, 512), self.depth_settings[depth])):
            blocks = []
            for j in range(num_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(Bottleneck(in_channels, planes, stride))
                in_channels = planes * Bottleneck.expansion
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            stage_channels.append(in_channels)

        self._setup_outputs(stage_channels, out_indices)
        self._init_conv_bn()

    def forward_stages(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            yield x
