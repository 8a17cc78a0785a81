"""Per-level 1x1 convolution + BatchNorm from the student's feature widths
to the teacher's (the connector of MMDetection's RTMDet distillation
recipe and of PKD / CWD when the widths differ)."""
from typing import List, Sequence, Union

from torch import Tensor, nn

from nd_mmdet.registry import MODELS


def _per_level(name, value, num_levels):
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * num_levels
    if not isinstance(value, (list, tuple)) or len(value) != num_levels or \
            not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(f'{name} must be a positive int or a list of '
                         f'{num_levels} positive ints, got {value!r}')
    return list(value)


@MODELS.register_module()
class ConvBNConnector(nn.Module):
    """Level ``l``: ``BN(Conv1x1(x_l))``, ``in_channels[l] ->
    out_channels[l]`` (conv without bias, BN with affine parameters).

    Args:
        in_channels (int | list[int]): the student widths of the distilled
            levels, in the distiller's level order.
        out_channels (int | list[int]): the teacher widths, same order.
        num_levels (int, optional): needed when both widths are ints.

    Shapes:
        feats: list of ``(N, in_channels[l], H_l, W_l)`` -> list of
        ``(N, out_channels[l], H_l, W_l)``.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 out_channels: Union[int, Sequence[int]],
                 num_levels: int = None):
        super().__init__()
        lengths = {len(v) for v in (in_channels, out_channels)
                   if isinstance(v, (list, tuple))}
        if num_levels is not None:
            lengths.add(num_levels)
        if len(lengths) != 1:
            raise ValueError(
                'ConvBNConnector: in_channels, out_channels and num_levels '
                f'disagree on the number of levels ({in_channels!r}, '
                f'{out_channels!r}, num_levels={num_levels!r}); give lists '
                'of one length or num_levels')
        num = lengths.pop()
        if not isinstance(num, int) or num < 1:
            raise ValueError(f'num_levels must be a positive int, got {num!r}')
        self.in_channels = _per_level('in_channels', in_channels, num)
        self.out_channels = _per_level('out_channels', out_channels, num)
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=1, bias=False),
                nn.BatchNorm2d(c_out))
            for c_in, c_out in zip(self.in_channels, self.out_channels))

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        if not isinstance(feats, (list, tuple)) or \
                len(feats) != len(self.convs):
            n = len(feats) if isinstance(feats, (list, tuple)) else None
            raise ValueError(f'feats must be a list of {len(self.convs)} '
                             f'feature maps (one per level), got length {n}')
        outs = []
        for level, (feat, conv) in enumerate(zip(feats, self.convs)):
            if feat.dim() != 4 or feat.shape[1] != self.in_channels[level]:
                raise ValueError(
                    f'feats[{level}] must have shape (N, '
                    f'{self.in_channels[level]}, H, W), got '
                    f'{tuple(feat.shape)}')
            outs.append(conv(feat))
        return outs
