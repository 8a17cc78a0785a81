"""PKDLoss: hand values, Pearson identity (numpy.corrcoef), float64 loop
reference, constant channels, gradients, low precision, input errors,
weight and registry."""
import math

import numpy as np
import pytest
import torch

from nd_mmdet.models.losses import PKDLoss
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)

EPS = 1e-6  # added to the population variance inside the sqrt


def pkd_reference(student, teacher, eps=EPS):
    """Loops over levels, channels and (n, h, w) positions in float64:
    z = (x - mean_c) / sqrt(var_c + eps), population var_c over N*H*W;
    level = sum (z_s - z_t)^2 / (2 * N*C*H*W)."""
    total = 0.0
    for s, t in zip(student, teacher):
        s, t = np.asarray(s, np.float64), np.asarray(t, np.float64)
        n, c, h, w = s.shape
        acc = 0.0
        for ch in range(c):
            zs, zt = [], []
            for x, z in ((s, zs), (t, zt)):
                vals = [x[i, ch, y, k] for i in range(n) for y in range(h)
                        for k in range(w)]
                mean = sum(vals) / len(vals)
                var = sum((v - mean) ** 2 for v in vals) / len(vals)
                z.extend((v - mean) / math.sqrt(var + eps) for v in vals)
            acc += sum((a - b) ** 2 for a, b in zip(zs, zt))
        total += acc / (n * c * h * w) / 2
    return total


def row(*values):
    """(1, 1, 1, len(values)) float32 map."""
    return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)


def test_hand_values():
    loss = PKDLoss()
    s = row(1., 2., 3., 4.)
    # centred s = [-1.5, -.5, .5, 1.5], sum of squares 5, var 5/4
    # t = [4,3,2,1]: centred t = -centred s, r = -1 -> 1 - r = 2
    # (z_s - z_t = 2 z_s, 0.5 * mean(4 z_s^2) = 2 * 1.25/(1.25 + eps))
    assert loss([s], [row(4., 3., 2., 1.)]).item() == pytest.approx(
        2.0, abs=1e-5)
    # t = 2 s: r = 1 -> 0
    assert loss([s], [row(2., 4., 6., 8.)]).item() == pytest.approx(
        0.0, abs=1e-6)
    # t = [1,3,2,4]: centred [-1.5, .5, -.5, 1.5];
    # <cs, ct> = 2.25 - .25 - .25 + 2.25 = 4, r = 4/5 = 0.8 -> 0.2
    # (exactly 0.5 * mean([0, -1, 1, 0]^2) / (1.25 + eps) = 0.25/1.25)
    assert loss([s], [row(1., 3., 2., 4.)]).item() == pytest.approx(
        0.2, abs=1e-6)
    # statistics run over (N, H, W): the same 4 values as (2, 1, 1, 2)
    s2 = s.view(2, 1, 1, 2)
    assert loss([s2], [row(1., 3., 2., 4.).view(2, 1, 1, 2)]).item() == \
        pytest.approx(0.2, abs=1e-6)
    # two channels, r = -1 and r = 0.8: mean over channels (2 + 0.2)/2
    s_c = torch.cat([s, s], dim=1)
    t_c = torch.cat([row(4., 3., 2., 1.), row(1., 3., 2., 4.)], dim=1)
    assert loss([s_c], [t_c]).item() == pytest.approx(1.1, abs=1e-5)
    # summed over levels: 2 + 0.2 + 1.1
    both = loss([s, s, s_c], [row(4., 3., 2., 1.), row(1., 3., 2., 4.), t_c])
    assert both.item() == pytest.approx(3.3, abs=1e-5)
    ref = pkd_reference([s.numpy(), s.numpy(), s_c.numpy()],
                        [row(4., 3., 2., 1.).numpy(),
                         row(1., 3., 2., 4.).numpy(), t_c.numpy()])
    assert ref == pytest.approx(3.3, abs=1e-5)


def test_constant_channels():
    loss = PKDLoss()
    s = row(1., 2., 3., 4.).requires_grad_(True)
    five = row(5., 5., 5., 5.)
    # both constant: both normalise to 0 -> 0.5 * mean((0 - 0)^2) = 0
    assert loss([five], [row(-2., -2., -2., -2.)]).item() == 0.0
    # one constant: 0.5 * mean(z^2) = 0.5 * 1.25 / (1.25 + eps) = 0.4999996
    out = loss([s], [five])
    assert out.item() == pytest.approx(0.5, abs=1e-6)
    out64 = loss([s.detach().double()], [five.double()])
    assert out64.item() == pytest.approx(0.5 * 1.25 / (1.25 + EPS),
                                         abs=1e-12)
    out.backward()
    assert torch.isfinite(s.grad).all()
    # constant student (finite gradient through the eps-guarded sqrt)
    sc = five.clone().requires_grad_(True)
    out = loss([sc], [s.detach()])
    assert out.item() == pytest.approx(0.5, abs=1e-6)
    out.backward()
    assert torch.isfinite(sc.grad).all()
    # 1x1 maps with N = 1: every channel is constant -> 0
    assert loss([torch.ones(1, 3, 1, 1)], [torch.zeros(1, 3, 1, 1)]).item() \
        == 0.0
    # empty batch -> 0 with a gradient path
    e = torch.zeros(0, 2, 3, 3, requires_grad=True)
    out = loss([e], [torch.zeros(0, 2, 3, 3)])
    out.backward()
    assert out.item() == 0.0 and e.grad.shape == e.shape


def test_pearson_identity():
    """With population statistics L = mean_c (1 - r_c), r_c from
    numpy.corrcoef over the N*H*W values of channel c (up to eps)."""
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 5, 4, 6, generator=g, dtype=torch.float64)
    t = 0.7 * s + 0.5 * torch.randn(3, 5, 4, 6, generator=g,
                                    dtype=torch.float64)
    t[:, 1] = -t[:, 1] * 3 + 2
    r = [np.corrcoef(s[:, c].numpy().ravel(), t[:, c].numpy().ravel())[0, 1]
         for c in range(5)]
    expected = float(np.mean([1 - rc for rc in r]))
    assert PKDLoss()([s], [t]).item() == pytest.approx(expected, abs=1e-5)
    # per-channel positive affine change of the teacher: loss ~ 0
    scale = torch.tensor([1., 3., .2, 10., 5.], dtype=torch.float64)
    t2 = s * scale.view(1, -1, 1, 1) + 7
    assert PKDLoss()([s], [t2]).item() == pytest.approx(0.0, abs=1e-5)


SHAPES = [
    [(2, 3, 1, 1)],
    [(2, 4, 2, 3), (2, 2, 3, 3)],
    [(3, 3, 5, 4), (3, 2, 3, 2), (3, 5, 2, 1)],
]


@pytest.mark.parametrize('shapes', SHAPES)
def test_matches_loop_reference(shapes):
    g = torch.Generator().manual_seed(len(shapes))
    s = [torch.randn(sh, generator=g, dtype=torch.float64) for sh in shapes]
    t = [torch.randn(sh, generator=g, dtype=torch.float64) for sh in shapes]
    ref = pkd_reference([x.numpy() for x in s], [x.numpy() for x in t])
    assert PKDLoss()(s, t).item() == pytest.approx(ref, abs=1e-10)
    out32 = PKDLoss()([x.float() for x in s], [x.float() for x in t])
    assert out32.dtype == torch.float32
    assert out32.item() == pytest.approx(ref, abs=1e-5)


def test_gradcheck_and_teacher_no_grad():
    g = torch.Generator().manual_seed(1)
    s = [torch.randn(2, 2, 3, 3, generator=g, dtype=torch.float64,
                     requires_grad=True),
         torch.randn(3, 3, 2, 1, generator=g, dtype=torch.float64,
                     requires_grad=True)]
    t = [torch.randn(x.shape, generator=g, dtype=torch.float64) for x in s]
    assert torch.autograd.gradcheck(lambda a, b: PKDLoss()([a, b], t),
                                    tuple(s))
    s32 = [x.detach().float().requires_grad_(True) for x in s]
    t32 = [x.float().requires_grad_(True) for x in t]
    PKDLoss()(s32, t32).backward()
    for x in s32:
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(x.grad is None for x in t32)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision(dtype):
    g = torch.Generator().manual_seed(2)
    # squares of the centred values (~9e4) exceed the fp16 max 65504
    s = [torch.randn(2, 4, 6, 6, generator=g) * 300,
         torch.randn(2, 3, 3, 3, generator=g)]
    t = [torch.randn(2, 4, 6, 6, generator=g) * 300 + s[0],
         torch.randn(2, 3, 3, 3, generator=g)]
    sh = [x.to(dtype).requires_grad_(True) for x in s]
    out = PKDLoss()(sh, [x.to(dtype) for x in t])
    assert out.dtype == torch.float32 and torch.isfinite(out)
    ref = pkd_reference([x.to(dtype).double().numpy() for x in s],
                        [x.to(dtype).double().numpy() for x in t])
    assert out.item() == pytest.approx(ref, rel=1e-5)
    assert out.item() == pytest.approx(PKDLoss()(s, t).item(), abs=2e-2)
    out.backward()
    assert all(torch.isfinite(x.grad).all() for x in sh)
    conv = torch.nn.Conv2d(3, 4, 1)
    with torch.autocast('cpu', dtype=dtype):
        feat = conv(torch.randn(1, 3, 8, 8))
        out = PKDLoss()([feat], [torch.randn(1, 4, 8, 8)])
    assert feat.dtype == dtype and out.dtype == torch.float32
    assert torch.isfinite(out)


def test_loss_weight_and_registry():
    s, t = row(1., 2., 3., 4.), row(4., 3., 2., 1.)
    loss = MODELS.build(dict(type='PKDLoss', _scope_='nd_mmdet'))
    assert isinstance(loss, PKDLoss) and loss.loss_weight == 1.0
    loss = MODELS.build(dict(type='PKDLoss', _scope_='nd_mmdet',
                             loss_weight=0.25))
    assert loss([s], [t]).item() == pytest.approx(0.25 * 2.0, abs=1e-5)
    assert PKDLoss(loss_weight=0)([s], [t]).item() == 0.0


def test_bad_inputs():
    a = torch.zeros(2, 3, 8, 8)
    b = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r'student_feats and teacher_feats.*'
                       r'lengths 2 and 1'):
        PKDLoss()([a, b], [a])
    with pytest.raises(ValueError, match=r'level 1.*student_feats\[1\].*'
                       r'\(2, 3, 4, 4\).*\(2, 3, 4, 5\)'):
        PKDLoss()([a, b], [a, torch.zeros(2, 3, 4, 5)])
    with pytest.raises(ValueError,
                       match=r'teacher_feats\[0\].*\(N, C, H, W\)'):
        PKDLoss()([a], [a[0]])
    with pytest.raises(ValueError, match=r'student_feats must be a list'):
        PKDLoss()(a, [a])
    for bad in (-1.0, float('nan'), float('inf'), 'x', None):
        with pytest.raises(ValueError, match='loss_weight'):
            PKDLoss(loss_weight=bad)
    with pytest.raises(ValueError, match='loss_weight'):
        MODELS.build(dict(type='PKDLoss', _scope_='nd_mmdet',
                          loss_weight=-0.5))
