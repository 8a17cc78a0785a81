"""Shared plumbing of this package's backbones: ``out_indices`` handling,
``stage_channels`` / ``embed_dim`` and the default weight init."""
import operator
from typing import Iterator, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

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
