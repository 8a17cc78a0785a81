"""PerLevelProjector: each row through its level's own projector, order
kept, gradients reach only the projectors used, bad input."""
import pytest
import torch

from nd_mmdet.models.connectors import EmbeddingProjector, PerLevelProjector
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)


def test_rows_go_through_their_level():
    torch.manual_seed(0)
    proj = MODELS.build(dict(type='PerLevelProjector', in_channels=6,
                             out_channels=4, num_levels=3))
    assert len(proj.projectors) == 3
    assert all(type(p) is EmbeddingProjector for p in proj.projectors)
    assert proj.projectors[0].fc.weight.data_ptr() != \
        proj.projectors[1].fc.weight.data_ptr()
    proj.eval()  # deterministic: BN running stats, no dropout
    x = torch.randn(7, 6, requires_grad=True)
    levels = torch.tensor([2, 0, 0, 2, 1, 0, 2])
    out = proj(x, levels)
    assert out.shape == (7, 4)
    for i, level in enumerate(levels.tolist()):
        expected = proj.projectors[level](x[i:i + 1])[0]
        torch.testing.assert_close(out[i], expected)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unused_level_gets_no_gradient_and_empty_input():
    proj = PerLevelProjector(5, 3, num_levels=2,
                             projector=dict(type='EmbeddingProjector',
                                            dropout=0.0))
    proj.train()
    out = proj(torch.randn(4, 5), torch.zeros(4, dtype=torch.long))
    out.sum().backward()
    assert proj.projectors[0].fc.weight.grad is not None
    assert proj.projectors[1].fc.weight.grad is None
    assert proj(torch.randn(0, 5), torch.zeros(0, dtype=torch.long)).shape \
        == (0, 3)


def test_bad_input():
    with pytest.raises(ValueError, match='num_levels'):
        PerLevelProjector(4, 4, num_levels=0)
    with pytest.raises(ValueError, match='leave them out'):
        PerLevelProjector(4, 4, 2, projector=dict(type='EmbeddingProjector',
                                                  in_channels=4))
    proj = PerLevelProjector(4, 2, num_levels=2)
    with pytest.raises(ValueError, match=r'x must have shape \(N, 4\)'):
        proj(torch.randn(3, 5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r'levels must have shape \(3,\)'):
        proj(torch.randn(3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r'levels must lie in \[0, 2\)'):
        proj(torch.randn(3, 4), torch.tensor([0, 1, 2]))
