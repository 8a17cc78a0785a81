"""MobileNetV2 for 32x32 inputs, the CRD ``mobile_half`` student."""
import math
from typing import Iterator, Optional

import torch
import torch.nn as nn

from nd_mmdet.registry import MODELS
from .base_backbone import BaseCifarBackbone, OutIndices


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class InvertedResidual(nn.Module):
    """1x1 expand-BN-ReLU, 3x3 depthwise(stride)-BN-ReLU, 1x1 project-BN
    (linear bottleneck), plus identity when stride is 1 and widths match.

    As in the CRD variant the expansion conv is kept even for ratio 1.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: int):
        super().__init__()
        hidden = in_channels * expand_ratio
        self.use_residual = stride == 1 and in_channels == out_channels
        self.conv = nn.Sequential(
            conv_bn_relu(in_channels, hidden, 1),
            conv_bn_relu(hidden, hidden, 3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


@MODELS.register_module()
class CifarMobileNetV2(BaseCifarBackbone):
    """MobileNetV2 (ReLU activations) for CIFAR, defaults = CRD mobile_half.

    Stem 3x3 stride-2 conv to ``int(32 * w)`` channels, the seven standard
    inverted-residual groups (t, c, n, s) = (1, 16, 1, 1), (T, 24, 2, 1),
    (T, 32, 3, 2), (T, 64, 4, 2), (T, 96, 3, 1), (T, 160, 3, 2),
    (T, 320, 1, 1) with widths ``int(c * w)``, then a 1x1 conv-BN-ReLU to
    1280 channels (``ceil(1280 * w / 8) * 8`` when w > 1).

    The outputs are five "stages": groups 0-1, group 2, groups 3-4,
    groups 5-6 (the CRD / ReviewKD feature taps) and the final 1x1 conv.
    For w = 0.5, T = 6: stage_channels (12, 16, 48, 160, 1280), embed_dim
    1280, 0.81M params with a 100-way linear head.

    Args:
        widen_factor: width multiplier w.
        expand_ratio: expansion T of groups 1-6.
        out_indices: outputs to return (0..4, negatives count from the
            end). Defaults to the last one (the 1280-channel map).
        init_cfg: mmengine init config applied by ``init_weights()``.

    Input ``(N, 3, 32, 32)``; outputs ``(N, 12, 16, 16)``, ``(N, 16, 8, 8)``,
    ``(N, 48, 4, 4)``, ``(N, 160, 2, 2)``, ``(N, 1280, 2, 2)`` (w = 0.5).
    The first four are linear-bottleneck outputs (no ReLU).
    """

    # t (None: use expand_ratio), c, n, s
    block_settings = ((1, 16, 1, 1), (None, 24, 2, 1), (None, 32, 3, 2),
                      (None, 64, 4, 2), (None, 96, 3, 1), (None, 160, 3, 2),
                      (None, 320, 1, 1))
    # indices into ``blocks`` that make up each output stage before the head
    stage_groups = ((0, 1), (2, ), (3, 4), (5, 6))

    def __init__(self,
                 widen_factor: float = 0.5,
                 expand_ratio: int = 6,
                 out_indices: OutIndices = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if widen_factor <= 0 or expand_ratio < 1:
            raise ValueError('widen_factor must be > 0 and expand_ratio >= 1, '
                             f'got {widen_factor}, {expand_ratio}')
        self.widen_factor = widen_factor
        in_channels = int(32 * widen_factor)
        self.conv1 = conv_bn_relu(3, in_channels, 3, stride=2)
        self.blocks = nn.ModuleList()
        group_channels = []
        for t, c, n, s in self.block_settings:
            out_channels = int(c * widen_factor)
            layers = []
            for j in range(n):
                layers.append(
                    InvertedResidual(in_channels, out_channels,
                                     s if j == 0 else 1,
                                     expand_ratio if t is None else t))
                in_channels = out_channels
            self.blocks.append(nn.Sequential(*layers))
            group_channels.append(out_channels)
        last_channels = 1280
        if widen_factor > 1.0:
            last_channels = int(math.ceil(1280 * widen_factor / 8) * 8)
        self.conv2 = conv_bn_relu(in_channels, last_channels, 1)

        stage_channels = [group_channels[g[-1]] for g in self.stage_groups]
        self._setup_outputs(stage_channels + [last_channels], out_indices)
        self._init_conv_bn()

    def forward_stages(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        x = self.conv1(x)
        for group in self.stage_groups:
            for idx in group:
                x = self.blocks[idx](x)
            yield x
        yield self.conv2(x)
