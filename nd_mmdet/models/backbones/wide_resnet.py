"""Wide ResNets for CIFAR (Zagoruyko & Komodakis 2016), CRD ``wrn_d_k``."""
from typing import Iterator, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from nd_mmdet.registry import MODELS
from .base_backbone import BaseCifarBackbone, OutIndices
from .cifar_resnet import conv3x3


class WideBasicBlock(nn.Module):
    """Pre-activation block: BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3.

    The residual is the raw input when the shape is kept; otherwise a 1x1
    conv applied to the *pre-activated* input (as in the original WRN code).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 drop_rate: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.drop_rate = drop_rate
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = self.relu(self.bn1(x))
        residual = x if self.shortcut is None else self.shortcut(act)
        out = self.relu(self.bn2(self.conv1(act)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return self.conv2(out) + residual


@MODELS.register_module()
class CifarWideResNet(BaseCifarBackbone):
    """WRN-depth-k for CIFAR: 3x3 stem conv to 16 channels, three stages of
    ``(depth - 4) / 6`` pre-activation blocks with widths 16k, 32k, 64k
    (stride 1, 2, 2), then a final BN-ReLU.

    ==========  =========  ================  ==================
    model       embed_dim  stage_channels    params (100 cls)
    ==========  =========  ================  ==================
    WRN-40-1    64         16, 32, 64        0.57M
    WRN-40-2    128        32, 64, 128       2.26M
    ==========  =========  ================  ==================

    Args:
        depth: ``6n + 4`` with n >= 1 (10, 16, 22, 28, 40, ...).
        widen_factor: width multiplier k (positive int).
        drop_rate: dropout between the two convs of each block.
        out_indices: stages whose outputs are returned (0..2, negatives
            count from the end). Defaults to the last stage.
        init_cfg: mmengine init config applied by ``init_weights()``.

    Input ``(N, 3, 32, 32)``; stage outputs ``(N, 16k, 32, 32)``,
    ``(N, 32k, 16, 16)``, ``(N, 64k, 8, 8)``. Stages 0 and 1 are the raw
    (pre-activation) block outputs; stage 2 is taken after the final BN-ReLU,
    i.e. the map that is pooled into the embedding.
    """

    def __init__(self,
                 depth: int = 40,
                 widen_factor: int = 2,
                 drop_rate: float = 0.0,
                 out_indices: OutIndices = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
            raise ValueError('CifarWideResNet depth must be 6n + 4 with '
                             f'n >= 1 (10, 16, 22, 28, 40, ...), got {depth}')
        if not isinstance(widen_factor, int) or widen_factor < 1:
            raise ValueError('widen_factor must be a positive int, got '
                             f'{widen_factor!r}')
        self.depth = depth
        self.widen_factor = widen_factor
        num_blocks = (depth - 4) // 6
        widths = [16 * widen_factor, 32 * widen_factor, 64 * widen_factor]

        self.conv1 = conv3x3(3, 16)
        in_channels = 16
        for i, out_channels in enumerate(widths):
            blocks = []
            for j in range(num_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(
                    WideBasicBlock(in_channels, out_channels, stride,
                                   drop_rate))
                in_channels = out_channels
            self.add_module(f'block{i + 1}', nn.Sequential(*blocks))
        self.final_bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)

        self._setup_outputs(widths, out_indices)
        self._init_conv_bn()

    def forward_stages(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        x = self.conv1(x)
        x = self.block1(x)
        yield x
        x = self.block2(x)
        yield x
        yield self.relu(self.final_bn(self.block3(x)))
