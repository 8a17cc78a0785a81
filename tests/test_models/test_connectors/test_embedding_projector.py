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


@pytest.mark.parametrize('n', [0, 1])
def test_fewer_than_two_rows_in_training(n):
    """No batch statistics for 0 or 1 rows: running statistics are used and
    left unchanged (nn.BatchNorm1d alone raises for 1 row)."""
    proj = EmbeddingProjector(4, 3, dropout=0.0)
    proj.bn.running_mean.copy_(torch.tensor([1.0, -1.0, 0.5, 2.0]))
    proj.bn.running_var.copy_(torch.tensor([4.0, 1.0, 0.25, 9.0]))
    with torch.no_grad():
        proj.bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5, 1.0]))
    before = proj.bn.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    proj.train()
    x = torch.tensor([[3.0, 0.0, 1.0, 5.0]])[:n].requires_grad_()
    out = proj(x)
    assert out.shape == (n, 3)
    # by hand: (x - mean) / sqrt(var + eps) * weight + bias, then fc
    normed = (x - proj.bn.running_mean) / torch.sqrt(
        proj.bn.running_var + proj.bn.eps) * proj.bn.weight + proj.bn.bias
    torch.testing.assert_close(out, proj.fc(normed))
    if n:
        torch.testing.assert_close(
            normed.detach(), torch.tensor([[1.0, 2.0, 0.5, 1.0]]),
            atol=1e-4, rtol=0)
    out.sum().backward()
    for k, v in proj.bn.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(ValueError, match='Expected more than 1 value'):
        nn.BatchNorm1d(4).train()(torch.randn(1, 4))
