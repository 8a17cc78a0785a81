"""CIFAR ResNets (He et al. 2016, Sec. 4.2) as used by the CRD model zoo.

Also holds :class:`BaseCifarBackbone`, the small amount of plumbing that
every CIFAR backbone in this package shares (``out_indices`` handling,
``stage_channels`` and the default weight init).
"""
import operator
from typing import Iterator, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from nd_mmdet.registry import MODELS

OutIndices = Union[int, Sequence[int]]


def parse_out_indices(out_indices: OutIndices,
                      num_stages: int) -> Tuple[int, ...]:
    """Validate ``out_indices`` and return them as sorted non-negative ints.

    Negative indices count from the end (``-1`` is the last stage). Raises
    ``ValueError`` for an empty selection, an index outside
    ``[-num_stages, num_stages)`` or a repeated stage, and ``TypeError`` for a
    non-integer entry.
    """
    if isinstance(out_indices, (str, bytes)) or not isinstance(
            out_indices, (int, Sequence)):
        raise TypeError('out_indices must be an int or a sequence of ints, '
                        f'got {out_indices!r}')
    indices = (out_indices, ) if isinstance(out_indices, int) else tuple(
        out_indices)
    if not indices:
        raise ValueError('out_indices must select at least one stage')
    normalised = []
    for idx in indices:
        if isinstance(idx, bool):
            raise TypeError(f'out_indices entries must be ints, got {idx!r}')
        try:
            idx = operator.index(idx)
        except TypeError:
            raise TypeError(
                f'out_indices entries must be ints, got {idx!r}') from None
        if not -num_stages <= idx < num_stages:
            raise ValueError(
                f'out_indices {tuple(indices)} out of range: this backbone '
                f'has {num_stages} stages, valid indices are '
                f'0..{num_stages - 1} (or -{num_stages}..-1)')
        normalised.append(idx % num_stages)
    if len(set(normalised)) != len(normalised):
        raise ValueError(f'out_indices {tuple(indices)} repeat a stage')
    return tuple(sorted(normalised))


class BaseCifarBackbone(BaseModule):
    """Shared behaviour of the CIFAR backbones (not registered itself).

    Subclasses build their layers, call :meth:`_setup_outputs` with the
    channel count of every stage output and implement :meth:`forward_stages`,
    a generator yielding one feature map per stage. :meth:`forward` returns
    the tuple of maps picked by ``out_indices`` in stage order, as mmpretrain
    backbones do, so the model plugs into ``ImageClassifier`` followed by
    ``GlobalAveragePooling`` and ``LinearClsHead(in_channels=embed_dim)``.
    """

    def _setup_outputs(self, stage_channels: Sequence[int],
                       out_indices: OutIndices) -> None:
        self._stage_channels = tuple(int(c) for c in stage_channels)
        self.out_indices = parse_out_indices(out_indices,
                                             len(self._stage_channels))

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        """Channels of every stage output, whether selected or not."""
        return self._stage_channels

    @property
    def num_stages(self) -> int:
        return len(self._stage_channels)

    @property
    def embed_dim(self) -> int:
        """Width of the final embedding: channels of the last stage output
        (what global average pooling hands to the classifier)."""
        return self._stage_channels[-1]

    def _init_conv_bn(self) -> None:
        """Kaiming-normal (fan_out, ReLU) convs; BN weight 1, bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_stages(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(feat for i, feat in enumerate(self.forward_stages(x))
                     if i in self.out_indices)


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
