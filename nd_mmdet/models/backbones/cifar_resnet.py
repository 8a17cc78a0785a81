"""CIFAR ResNets (He et al. 2016, Sec. 4.2) as used by the CRD model zoo."""
from typing import Iterator, Optional, Sequence

import torch
import torch.nn as nn

from nd_mmdet.registry import MODELS
from .base_backbone import BaseCifarBackbone, OutIndices


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus identity (or 1x1 conv-BN projection
    when the shape changes), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(
                    in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


@MODELS.register_module()
class CifarResNet(BaseCifarBackbone):
    """CIFAR ResNet with basic blocks (the CRD ``resnetN`` / ``resnetNx4``).

    A 3x3 stride-1 stem conv-BN-ReLU, then three stages of ``(depth - 2) / 6``
    basic blocks each; the first block of stages 1 and 2 has stride 2.

    ============  =====  ==================  =========  ===================
    arch          depth  channels            embed_dim  params (100 cls)
    ============  =====  ==================  =========  ===================
    resnet20      20     16, 16, 32, 64      64         0.28M
    resnet56      56     16, 16, 32, 64      64         0.86M
    resnet8x4     8      32, 64, 128, 256    256        1.23M
    resnet32x4    32     32, 64, 128, 256    256        7.43M
    ============  =====  ==================  =========  ===================

    ``resnet8/14/32/44/110`` are also known (channels 16, 16, 32, 64).

    Args:
        arch: name from :attr:`arch_settings`; supplies the default
            ``depth`` and ``channels``.
        depth: overrides the arch depth; must be ``6n + 2`` (8, 14, 20, ...).
        channels: overrides the arch widths as ``(stem, stage0, stage1,
            stage2)``.
        out_indices: stages whose outputs are returned (0..2, negatives
            count from the end). Defaults to the last stage.
        init_cfg: mmengine init config applied by ``init_weights()``.
            Without it the weights keep the kaiming/BN init done here.

    Input ``(N, 3, 32, 32)``; stage outputs (post-ReLU) have shapes
    ``(N, c0, 32, 32)``, ``(N, c1, 16, 16)``, ``(N, c2, 8, 8)``.
    """

    arch_settings = {
        'resnet8': (8, (16, 16, 32, 64)),
        'resnet14': (14, (16, 16, 32, 64)),
        'resnet20': (20, (16, 16, 32, 64)),
        'resnet32': (32, (16, 16, 32, 64)),
        'resnet44': (44, (16, 16, 32, 64)),
        'resnet56': (56, (16, 16, 32, 64)),
        'resnet110': (110, (16, 16, 32, 64)),
        'resnet8x4': (8, (32, 64, 128, 256)),
        'resnet32x4': (32, (32, 64, 128, 256)),
    }

    def __init__(self,
                 arch: str = 'resnet20',
                 depth: Optional[int] = None,
                 channels: Optional[Sequence[int]] = None,
                 out_indices: OutIndices = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'Unknown CifarResNet arch {arch!r}; expected '
                             f'one of {sorted(self.arch_settings)}')
        arch_depth, arch_channels = self.arch_settings[arch]
        depth = arch_depth if depth is None else depth
        channels = tuple(arch_channels if channels is None else channels)
        if (not isinstance(depth, int) or depth < 8 or (depth - 2) % 6):
            raise ValueError(f'CifarResNet depth must be 6n + 2 with n >= 1 '
                             f'(8, 14, 20, 32, 44, 56, 110, ...), got {depth}')
        if len(channels) != 4:
            raise ValueError('channels must be (stem, stage0, stage1, '
                             f'stage2), got {channels}')
        self.depth = depth
        num_blocks = (depth - 2) // 6

        self.conv1 = conv3x3(3, channels[0])
        self.bn1 = nn.BatchNorm2d(channels[0])
        self.relu = nn.ReLU(inplace=True)
        in_channels = channels[0]
        for i, out_channels in enumerate(channels[1:]):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    BasicBlock(in_channels, out_channels,
                               stride if j == 0 else 1))
                in_channels = out_channels
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))

        self._setup_outputs(channels[1:], out_indices)
        self._init_conv_bn()

    def forward_stages(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        for layer in (self.layer1, self.layer2, self.layer3):
            x = layer(x)
            yield x
