"""CWDLoss: hand values, float64 loop reference, p_t = 0 terms, gradients,
low precision, input errors, weight and registry."""
import math

import numpy as np
import pytest
import torch

from nd_mmdet.models.losses import CWDLoss
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)

LOG3 = math.log(3.0)
# tau = 1, student [0, 0], teacher [log 3, 0]: p_t = [3/4, 1/4],
# p_s = [1/2, 1/2]; KL = 3/4 log(3/2) + 1/4 log(1/2) = 0.130812
KL_T1 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
# tau = 2: t / 2 = [log sqrt3, 0], p_t = [sqrt3, 1] / (sqrt3 + 1)
# = [(3 - sqrt3)/2, (sqrt3 - 1)/2] = [0.633975, 0.366025], p_s = [1/2, 1/2]
# KL = sum p_t log(2 p_t)
#    = 0.633975 log(1.267949) + 0.366025 log(0.732051)
#    = 0.633975 * 0.237410 - 0.366025 * 0.311923 = 0.036341
# loss = tau^2 * KL = 4 * 0.036341 = 0.145363
R3 = math.sqrt(3.0)
KL_T2 = (3 - R3) / 2 * math.log(3 - R3) + (R3 - 1) / 2 * math.log(R3 - 1)


def log_softmax(z):
    z = z - max(z)
    lse = math.log(sum(math.exp(v) for v in z))
    return [v - lse for v in z]


def cwd_reference(student, teacher, tau):
    """Loops over levels, images, channels and positions in float64."""
    total = 0.0
    for s, t in zip(student, teacher):
        s, t = np.asarray(s, np.float64), np.asarray(t, np.float64)
        n, c, h, w = s.shape
        level = 0.0
        for i in range(n):
            for ch in range(c):
                zs = [s[i, ch, y, x] / tau for y in range(h) for x in range(w)]
                zt = [t[i, ch, y, x] / tau for y in range(h) for x in range(w)]
                log_ps, log_pt = log_softmax(zs), log_softmax(zt)
                for j in range(h * w):
                    pt = math.exp(log_pt[j])
                    if pt > 0:
                        level += pt * (log_pt[j] - log_ps[j])
        total += tau * tau * level / (n * c)
    return total


def row(*values):
    """(1, 1, 1, len(values)) float32 map."""
    return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)


def test_hand_values():
    s, t = row(0., 0.), row(LOG3, 0.)
    assert KL_T1 == pytest.approx(0.130812, abs=1e-6)
    assert KL_T2 == pytest.approx(0.036341, abs=1e-6)
    assert CWDLoss()([s], [t]).item() == pytest.approx(0.130812, abs=1e-6)
    # the tau^2 factor: tau = 2 gives 4 * KL_T2, not KL_T2
    out2 = CWDLoss(tau=2.0)([s], [t]).item()
    assert out2 == pytest.approx(0.145363, abs=1e-6)
    assert out2 == pytest.approx(4 * KL_T2, abs=1e-6)
    # 3 positions, t = [log 2, 0, 0]: p_t = [1/2, 1/4, 1/4], p_s = 1/3 each
    # KL = 1/2 log(3/2) + 2 * 1/4 log(3/4) = 1/2 log(9/8) = 0.058892
    out3 = CWDLoss()([torch.zeros(1, 1, 3, 1)],
                     [torch.tensor([math.log(2.), 0., 0.]).view(1, 1, 3, 1)])
    assert out3.item() == pytest.approx(0.058892, abs=1e-6)
    # mean over N*C pairs: image 0 as above, image 1 identical maps (KL 0),
    # channel 1 identical: (0.130812 + 0 + 0 + 0) / (2 * 2) = 0.032703
    s4 = torch.zeros(2, 2, 1, 2)
    t4 = torch.zeros(2, 2, 1, 2)
    t4[0, 0, 0, 0] = LOG3
    assert CWDLoss()([s4], [t4]).item() == pytest.approx(0.032703, abs=1e-6)
    # summed over levels: 0.130812 + 0.058892
    both = CWDLoss()([s, torch.zeros(1, 1, 3, 1)],
                     [t, torch.tensor([math.log(2.), 0., 0.]).view(1, 1, 3,
                                                                   1)])
    assert both.item() == pytest.approx(0.130812 + 0.058892, abs=1e-6)
    ref = cwd_reference([s.numpy(), s4.numpy()], [t.numpy(), t4.numpy()],
                        1.0)
    assert ref == pytest.approx(0.130812 + 0.032703, abs=1e-6)
    assert cwd_reference([s.numpy()], [t.numpy()], 2.0) == pytest.approx(
        0.145363, abs=1e-6)


def test_zero_teacher_probability():
    # teacher [0, -inf]: p_t = [1, 0]; the p_t = 0 term is 0 (not 0 * inf)
    # KL = 1 * log(1 / (1/2)) = log 2
    s = row(0., 0.).requires_grad_(True)
    out = CWDLoss()([s], [row(0., -math.inf)])
    assert out.item() == pytest.approx(math.log(2.), abs=1e-6)
    out.backward()
    assert torch.isfinite(s.grad).all()
    # underflowing p_t (exp(-1000) = 0 in float32 / float64) stays finite
    s = row(0., 0., 0.).requires_grad_(True)
    out = CWDLoss()([s], [row(1000., 0., -1000.)])
    assert out.item() == pytest.approx(math.log(3.), abs=1e-5)
    out.backward()
    assert torch.isfinite(s.grad).all()
    # identical maps -> 0; empty batch -> 0
    x = torch.randn(2, 3, 4, 4)
    assert CWDLoss(tau=3.)([x], [x.clone()]).item() == pytest.approx(
        0.0, abs=1e-6)
    assert CWDLoss()([torch.zeros(0, 2, 3, 3)],
                     [torch.zeros(0, 2, 3, 3)]).item() == 0.0


SHAPES = [
    [(2, 3, 1, 1)],
    [(2, 4, 2, 3), (2, 2, 3, 3)],
    [(3, 3, 5, 4), (3, 2, 3, 2), (3, 5, 2, 1)],
]


@pytest.mark.parametrize('tau', [1.0, 4.0])
@pytest.mark.parametrize('shapes', SHAPES)
def test_matches_loop_reference(shapes, tau):
    g = torch.Generator().manual_seed(len(shapes))
    s = [torch.randn(sh, generator=g, dtype=torch.float64) * 3
         for sh in shapes]
    t = [torch.randn(sh, generator=g, dtype=torch.float64) * 3
         for sh in shapes]
    ref = cwd_reference([x.numpy() for x in s], [x.numpy() for x in t], tau)
    assert CWDLoss(tau)(s, t).item() == pytest.approx(ref, abs=1e-10)
    out32 = CWDLoss(tau)([x.float() for x in s], [x.float() for x in t])
    assert out32.dtype == torch.float32
    assert out32.item() == pytest.approx(ref, abs=1e-5)


def standardise(x, eps=1e-6):
    """Each channel of a (N, C, H, W) array to zero mean, unit population
    variance over (N, H, W), eps on the variance; loops in float64."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    for ch in range(x.shape[1]):
        values = x[:, ch].ravel()
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        out[:, ch] = (x[:, ch] - mean) / math.sqrt(var + eps)
    return out


@pytest.mark.parametrize('shapes', SHAPES[1:])  # 1x1 maps: CWD is 0
def test_normalize_matches_reference_and_ignores_channel_affine(shapes):
    """normalize=True (RTMDet's recipe): the reference on standardised
    maps; a per-channel positive scale and shift of the student changes
    nothing."""
    g = torch.Generator().manual_seed(7)
    s = [torch.randn(sh, generator=g, dtype=torch.float64) * 3 + 1
         for sh in shapes]
    t = [torch.randn(sh, generator=g, dtype=torch.float64) * 2
         for sh in shapes]
    ref = cwd_reference([standardise(x.numpy()) for x in s],
                        [standardise(x.numpy()) for x in t], 1.0)
    loss = CWDLoss(normalize=True)
    assert loss(s, t).item() == pytest.approx(ref, abs=1e-9)
    scaled = [x * torch.linspace(0.5, 4, x.shape[1],
                                 dtype=x.dtype).view(1, -1, 1, 1) - 3
              for x in s]
    assert loss(scaled, t).item() == pytest.approx(ref, abs=1e-6)
    assert CWDLoss()(scaled, t).item() != pytest.approx(ref, abs=1e-3)


def test_gradcheck_and_teacher_no_grad():
    g = torch.Generator().manual_seed(1)
    s = [torch.randn(2, 2, 3, 3, generator=g, dtype=torch.float64,
                     requires_grad=True),
         torch.randn(3, 3, 2, 1, generator=g, dtype=torch.float64,
                     requires_grad=True)]
    t = [torch.randn(x.shape, generator=g, dtype=torch.float64) for x in s]
    assert torch.autograd.gradcheck(
        lambda a, b: CWDLoss(tau=2.0)([a, b], t), tuple(s))
    s32 = [x.detach().float().requires_grad_(True) for x in s]
    t32 = [x.float().requires_grad_(True) for x in t]
    CWDLoss()(s32, t32).backward()
    for x in s32:
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(x.grad is None for x in t32)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision(dtype):
    g = torch.Generator().manual_seed(2)
    # exp of these activations overflows fp16 without the float32 upcast
    s = [torch.randn(2, 4, 6, 6, generator=g) * 30,
         torch.randn(2, 3, 3, 3, generator=g)]
    t = [torch.randn(2, 4, 6, 6, generator=g) * 30,
         torch.randn(2, 3, 3, 3, generator=g)]
    sh = [x.to(dtype).requires_grad_(True) for x in s]
    out = CWDLoss()(sh, [x.to(dtype) for x in t])
    assert out.dtype == torch.float32 and torch.isfinite(out)
    ref = cwd_reference([x.to(dtype).double().numpy() for x in s],
                        [x.to(dtype).double().numpy() for x in t], 1.0)
    assert out.item() == pytest.approx(ref, rel=1e-5)
    assert out.item() == pytest.approx(CWDLoss()(s, t).item(), rel=2e-2)
    out.backward()
    assert all(torch.isfinite(x.grad).all() for x in sh)
    conv = torch.nn.Conv2d(3, 4, 1)
    with torch.autocast('cpu', dtype=dtype):
        feat = conv(torch.randn(1, 3, 8, 8))
        out = CWDLoss()([feat], [torch.randn(1, 4, 8, 8)])
    assert feat.dtype == dtype and out.dtype == torch.float32
    assert torch.isfinite(out)


def test_loss_weight_and_registry():
    s, t = row(0., 0.), row(LOG3, 0.)
    loss = MODELS.build(dict(type='CWDLoss', _scope_='nd_mmdet'))
    assert isinstance(loss, CWDLoss)
    assert loss.tau == 1.0 and loss.loss_weight == 1.0
    loss = MODELS.build(dict(type='CWDLoss', _scope_='nd_mmdet', tau=2.0,
                             loss_weight=3.0))
    assert loss([s], [t]).item() == pytest.approx(3 * 0.145363, abs=1e-5)
    assert CWDLoss(loss_weight=0)([s], [t]).item() == 0.0


def test_bad_inputs():
    a = torch.zeros(2, 3, 8, 8)
    b = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r'student_feats and teacher_feats.*'
                       r'lengths 2 and 1'):
        CWDLoss()([a, b], [a])
    with pytest.raises(ValueError, match=r'level 1.*student_feats\[1\].*'
                       r'\(2, 3, 4, 4\).*\(2, 3, 4, 5\)'):
        CWDLoss()([a, b], [a, torch.zeros(2, 3, 4, 5)])
    with pytest.raises(ValueError,
                       match=r'student_feats\[0\].*\(N, C, H, W\)'):
        CWDLoss()([a[0]], [a])
    with pytest.raises(ValueError, match=r'teacher_feats must be a list'):
        CWDLoss()([a], a)
    for tau in (0.0, -1.0, float('nan')):
        with pytest.raises(ValueError, match='tau'):
            CWDLoss(tau=tau)
    for bad in (-1.0, float('nan'), float('inf'), None):
        with pytest.raises(ValueError, match='loss_weight'):
            CWDLoss(loss_weight=bad)
    with pytest.raises(ValueError, match='tau'):
        MODELS.build(dict(type='CWDLoss', _scope_='nd_mmdet', tau=0))
