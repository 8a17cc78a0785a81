"""ConvBNConnector: per-level 1x1 conv + BN, widths, hand values, errors."""
import pytest
import torch

from nd_mmdet.models.connectors import ConvBNConnector
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)


def test_shapes_and_broadcast_widths():
    conn = ConvBNConnector(in_channels=[4, 8], out_channels=16)
    assert conn.in_channels == [4, 8] and conn.out_channels == [16, 16]
    outs = conn([torch.randn(2, 4, 5, 6), torch.randn(2, 8, 3, 3)])
    assert [tuple(o.shape) for o in outs] == [(2, 16, 5, 6), (2, 16, 3, 3)]
    conn = ConvBNConnector(96, 128, num_levels=3)
    assert conn.in_channels == [96] * 3 and len(conn.convs) == 3


def test_hand_values_in_eval():
    """Weight 2, BN eval with running mean 1, var 4, gamma 3, beta 0.5:
    y = 3 * (2x - 1) / sqrt(4 + eps) + 0.5."""
    conn = ConvBNConnector(1, 1, num_levels=1).eval()
    conv, bn = conn.convs[0]
    with torch.no_grad():
        conv.weight.fill_(2.0)
        bn.running_mean.fill_(1.0)
        bn.running_var.fill_(4.0)
        bn.weight.fill_(3.0)
        bn.bias.fill_(0.5)
    x = torch.tensor([0.0, 1.0, 2.5]).view(1, 1, 1, 3)
    out = conn([x])[0].flatten()
    expected = [3 * (2 * v - 1) / (4 + bn.eps) ** 0.5 + 0.5
                for v in (0.0, 1.0, 2.5)]
    assert out.tolist() == pytest.approx(expected, rel=1e-6)


def test_gradient_reaches_the_input():
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    ConvBNConnector(4, 8, num_levels=1)([x])[0].sum().backward()
    assert x.grad is not None


def test_errors():
    with pytest.raises(ValueError, match='disagree on the number of levels'):
        ConvBNConnector([4, 8], [16, 16, 16])
    with pytest.raises(ValueError, match='disagree'):
        ConvBNConnector(4, 8)
    with pytest.raises(ValueError, match='in_channels must be a positive'):
        ConvBNConnector([4, 0], 8)
    conn = ConvBNConnector([4, 8], 16)
    with pytest.raises(ValueError, match='list of 2 feature maps'):
        conn([torch.randn(1, 4, 2, 2)])
    with pytest.raises(ValueError, match=r'feats\[1\] must have shape '
                       r'\(N, 8, H, W\), got \(1, 4, 2, 2\)'):
        conn([torch.randn(1, 4, 2, 2), torch.randn(1, 4, 2, 2)])


def test_registry():
    conn = MODELS.build(dict(type='ConvBNConnector', _scope_='nd_mmdet',
                             in_channels=[4], out_channels=[8]))
    assert isinstance(conn, ConvBNConnector)
