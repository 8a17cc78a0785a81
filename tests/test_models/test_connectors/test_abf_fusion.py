"""ABF and ReviewKDConnector: shapes, order, attention formula, gradient
flow through the attention path, init, errors, registry."""
import math

import pytest
import torch
import torch.nn.functional as F

from nd_mmdet.models.connectors import ABF, ReviewKDConnector
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)

IN, OUT, MID = [8, 16, 32], [12, 24, 40], 10
SIZES = [(16, 20), (8, 10), (4, 5)]  # shallow -> deep


def feats(n=2, requires_grad=False):
    torch.manual_seed(0)
    return [torch.randn(n, c, h, w, requires_grad=requires_grad)
            for c, (h, w) in zip(IN, SIZES)]


def test_connector_shapes_and_order():
    conn = ReviewKDConnector(IN, OUT, MID)
    outs = conn(feats())
    assert [tuple(o.shape) for o in outs] == [
        (2, c, h, w) for c, (h, w) in zip(OUT, SIZES)]
    # deepest level has no attention (nothing deeper to fuse)
    assert conn.abfs[-1].att_conv is None
    assert all(a.att_conv is not None for a in conn.abfs[:-1])


def test_connector_matches_manual_review_path():
    conn = ReviewKDConnector(IN, OUT, MID).eval()
    xs = feats()
    y2, r = conn.abfs[2](xs[2])
    y1, r = conn.abfs[1](xs[1], r)
    y0, _ = conn.abfs[0](xs[0], r)
    outs = conn(xs)
    for o, y in zip(outs, [y0, y1, y2]):
        assert torch.equal(o, y)


def test_abf_attention_formula():
    abf = ABF(6, 4, 5, fuse=True).eval()
    torch.manual_seed(1)
    feat, res = torch.randn(2, 6, 7, 9), torch.randn(2, 4, 4, 5)
    y, x = abf(feat, res)
    base = abf.conv1(feat)
    up = F.interpolate(res, size=(7, 9), mode='nearest')
    att = torch.sigmoid(abf.att_conv[0](torch.cat([base, up], 1)))
    expected_x = base * att[:, :1] + up * att[:, 1:]
    assert torch.allclose(x, expected_x, atol=1e-6)
    assert torch.allclose(y, abf.conv2(expected_x), atol=1e-6)
    assert y.shape == (2, 5, 7, 9) and x.shape == (2, 4, 7, 9)


def test_gradient_reaches_every_input_through_attention():
    conn = ReviewKDConnector(IN, OUT, MID)
    xs = feats(requires_grad=True)
    # only the shallowest output: the deeper inputs reach it solely through
    # the residual / attention path
    conn(xs)[0].pow(2).mean().backward()
    for i, x in enumerate(xs):
        assert x.grad is not None and x.grad.abs().sum() > 0, i
        assert torch.isfinite(x.grad).all()
    for abf in conn.abfs[:-1]:
        assert abf.att_conv[0].weight.grad.abs().sum() > 0


def test_kaiming_uniform_a1_init():
    torch.manual_seed(2)
    abf = ABF(64, 32, 16, fuse=False)
    for conv in (abf.conv1[0], abf.conv2[0]):
        fan_in = conv.weight[0].numel()
        bound = math.sqrt(3.0 / fan_in)  # gain sqrt(2 / (1 + a^2)) = 1
        w = conv.weight.detach()
        assert w.abs().max() <= bound + 1e-6
        assert w.abs().max() > 0.9 * bound
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)
        assert conv.bias is None


def test_errors_and_registry():
    conn = MODELS.build(dict(type='ReviewKDConnector', in_channels=IN,
                             out_channels=OUT, mid_channels=MID))
    assert isinstance(conn, ReviewKDConnector)
    with pytest.raises(ValueError, match=r'feats must be a list of 3.*'
                       r'length 2'):
        conn(feats()[:2])
    with pytest.raises(ValueError, match=r'in_channels and out_channels.*'
                       r'\[8, 16\].*\[12\]'):
        ReviewKDConnector([8, 16], [12], MID)
    xs = feats()
    xs[1] = torch.randn(2, 5, 8, 10)
    with pytest.raises(ValueError, match=r'feat must have shape \(N, 16, H, '
                       r'W\).*\(2, 5, 8, 10\)'):
        conn(xs)
    with pytest.raises(ValueError, match='residual'):
        ABF(4, 4, 4, fuse=True)(torch.randn(1, 4, 2, 2))
    with pytest.raises(ValueError, match='residual'):
        ABF(4, 4, 4, fuse=False)(torch.randn(1, 4, 2, 2),
                                 torch.randn(1, 4, 1, 1))


def test_out_shapes_upsample_small_student_levels():
    """ShuffleNet-like student maps half the teacher's size: each level is
    upsampled to the teacher's size after fusion, and the upsampled map is
    the residual of the next shallower level."""
    from nd_mmdet.models.connectors import ReviewKDConnector
    torch.manual_seed(0)
    conn = ReviewKDConnector([8, 16], [4, 6], mid_channels=5,
                             out_shapes=[8, (4, 4)])
    feats = [torch.randn(2, 8, 4, 4), torch.randn(2, 16, 2, 2)]
    outs = conn(feats)
    assert [tuple(o.shape) for o in outs] == [(2, 4, 8, 8), (2, 6, 4, 4)]
    # The deepest level by hand: conv1, upsample to 4x4, conv2.
    deep = conn.abfs[1]
    x = torch.nn.functional.interpolate(deep.conv1(feats[1]), size=(4, 4))
    torch.testing.assert_close(outs[1], deep.conv2(x))
    with pytest.raises(ValueError, match='out_shapes must have one entry'):
        ReviewKDConnector([8, 16], [4, 6], 5, out_shapes=[8])
