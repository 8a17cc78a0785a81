"""MobileNetV1 (Howard et al. 2017) for ImageNet, the ReviewKD / ND student.

Neither MMPretrain, MMDetection nor torchvision ships it.
"""
from typing import Iterator

import torch
import torch.nn as nn

from nd_mmdet.registry import MODELS
from .base_backbone import BaseCifarBackbone, OutIndices


def conv_bn(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """3x3 conv-BN-ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def depthwise_separable(in_channels: int, out_channels: int,
                        stride: int) -> nn.Module:
    """3x3 depthwise conv-BN-ReLU, then 1x1 pointwise conv-BN-ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, stride, 1,
                  groups=in_channels, bias=False),
        nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


@MODELS.register_module()
class MobileNetV1(BaseCifarBackbone):
    """MobileNetV1, width 1.0: a 32-channel stride-2 stem conv and 13
    depthwise-separable blocks.

    ``stem`` = conv(3->32, s2) + block(32->64); stages ``layer1..layer4``
    output 128 / 256 / 512 / 1024 channels at strides 4 / 8 / 16 / 32
    (56 / 28 / 14 / 7 px for a 224 px input). 3.21M parameters; 4.23M with
    a 1000-way linear head on the 1024-d embedding.

    Shapes: ``(N, 3, H, W)`` -> tuple of ``(N, C_i, H / s_i, W / s_i)`` for
    the stages in ``out_indices`` (default: the last).
    """

    def __init__(self, out_indices: OutIndices = -1, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.stem = nn.Sequential(
            conv_bn(3, 32, 2), depthwise_separable(32, 64, 1))
        self.layer1 = nn.Sequential(
            depthwise_separable(64, 128, 2), depthwise_separable(128, 128, 1))
        self.layer2 = nn.Sequential(
            depthwise_separable(128, 256, 2), depthwise_separable(256, 256, 1))
        self.layer3 = nn.Sequential(
            depthwise_separable(256, 512, 2),
            *[depthwise_separable(512, 512, 1) for _ in range(5)])
        self.layer4 = nn.Sequential(
            depthwise_separable(512, 1024, 2),
            depthwise_separable(1024, 1024, 1))
        self._setup_outputs((128, 256, 512, 1024), out_indices)
        self._init_conv_bn()

    def forward_stages(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        x = self.stem(x)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            yield x
