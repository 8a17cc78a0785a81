"""One embedding projector per FPN level, for dense detectors."""
import torch.nn as nn
from torch import Tensor

from nd_mmdet.registry import MODELS


@MODELS.register_module()
class PerLevelProjector(nn.Module):
    """``num_levels`` independent copies of a projector (default
    :class:`EmbeddingProjector`); row ``i`` goes through the copy of its
    level ``levels[i]``.

    For ``DenseDistiller``'s ``student_embed``: the classification-branch
    feature has the same width on every FPN level, so one shared
    ``EmbeddingProjector`` is enough; this gives each level its own
    normalisation statistics and weights instead.

    Args:
        in_channels (int): student embedding width ``D_s``.
        out_channels (int): teacher embedding width ``D_t``.
        num_levels (int): FPN levels of the student's head.
        projector (dict): config of one level's projector, without
            ``in_channels`` / ``out_channels`` (they are set from the
            arguments above). Default ``dict(type='EmbeddingProjector')``.

    Shapes:
        ``x`` ``(N, D_s)``, ``levels`` ``(N,)`` ints in ``[0, num_levels)``
        -> ``(N, D_t)``, rows in the input order.
    """

    #: DenseDistiller passes the entries' FPN levels as the second argument.
    needs_levels = True

    def __init__(self, in_channels: int, out_channels: int, num_levels: int,
                 projector: dict = None):
        super().__init__()
        if not isinstance(num_levels, int) or num_levels < 1:
            raise ValueError(f'num_levels must be a positive int, got '
                             f'{num_levels!r}')
        cfg = dict(projector or dict(type='EmbeddingProjector'))
        if 'in_channels' in cfg or 'out_channels' in cfg:
            raise ValueError('PerLevelProjector sets in_channels / '
                             'out_channels of its projectors itself: leave '
                             'them out of `projector`')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_levels = num_levels
        self.projectors = nn.ModuleList(
            MODELS.build(dict(cfg, in_channels=in_channels,
                              out_channels=out_channels))
            for _ in range(num_levels))

    def forward(self, x: Tensor, levels: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'x must have shape (N, {self.in_channels}), '
                             f'got {tuple(x.shape)}')
        if levels.shape != x.shape[:1]:
            raise ValueError(f'levels must have shape ({x.shape[0]},), got '
                             f'{tuple(levels.shape)}')
        if levels.numel() and (int(levels.min()) < 0 or
                               int(levels.max()) >= self.num_levels):
            raise ValueError(f'levels must lie in [0, {self.num_levels}), '
                             f'got {levels.min()}..{levels.max()}')
        out = x.new_empty(x.shape[0], self.out_channels)
        for level, projector in enumerate(self.projectors):
            rows = (levels == level).nonzero().squeeze(1)
            if rows.numel():
                out = out.index_copy(0, rows, projector(x[rows]))
        return out
