"""EmbeddingProjector: structure, shapes, registry, bad input."""
import pytest
import torch
import torch.nn as nn

from nd_mmdet.models.connectors import EmbeddingProjector
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)


@pytest.mark.parametrize('n,d_in,d_out', [(2, 64, 128), (7, 1280, 2048),
                                          (64, 960, 256)])
def test_shapes(n, d_in, d_out):
    proj = EmbeddingProjector(d_in, d_out)
    out = proj(torch.randn(n, d_in))
    assert out.shape == (n, d_out)
    out.sum().backward()
    assert proj.fc.weight.grad is not None and proj.bn.weight.grad is not None


def test_structure_and_eval():
    proj = EmbeddingProjector(8, 4, dropout=0.3)
    layers = list(proj.children())
    assert [type(m) for m in layers] == [nn.BatchNorm1d, nn.Dropout,
                                         nn.Linear]
    assert layers[0].num_features == 8 and layers[1].p == 0.3
    assert (layers[2].in_features, layers[2].out_features) == (8, 4)
    x = torch.randn(5, 8)
    proj.eval()  # BN running stats, no dropout: deterministic and affine
    expected = proj.fc(proj.bn(x))
    assert torch.allclose(proj(x), expected)
    assert torch.allclose(proj(x), proj(x))


def test_registry_and_bad_input():
    proj = MODELS.build(dict(type='EmbeddingProjector', in_channels=6,
                             out_channels=3))
    assert isinstance(proj, EmbeddingProjector) and proj.dropout.p == 0.5
    with pytest.raises(ValueError, match=r'x must have shape \(N, 6\).*'
                       r'\(4, 5\)'):
        proj(torch.randn(4, 5))
