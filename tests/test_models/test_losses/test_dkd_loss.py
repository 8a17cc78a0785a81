"""DKDLoss: hand values, float64 loop reference, gradients, low precision,
input errors, weight and registry."""
import numpy as np
import pytest
import torch

from nd_mmdet.models.losses import DKDLoss
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)

ZS = [[1., 2., 3.], [.5, -1., 2.]]
ZT = [[2., 1., 0.], [1., 1., 3.]]
Y = [2, 0]


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def kl(p, q):
    return sum(p[c] * (np.log(p[c]) - np.log(q[c]))
               for c in range(len(p)) if p[c] > 0)


def dkd_reference(zs, zt, y, alpha, beta, T):
    """Per-sample loop in numpy float64; returns (tckd, nckd, total)."""
    zs, zt = np.asarray(zs, np.float64), np.asarray(zt, np.float64)
    tckd = nckd = 0.0
    for i, k in enumerate(y):
        ps, pt = softmax(zs[i] / T), softmax(zt[i] / T)
        tckd += kl([pt[k], 1 - pt[k]], [ps[k], 1 - ps[k]])
        onehot = np.eye(zs.shape[1])[k]
        nckd += kl(softmax(zt[i] / T - 1000 * onehot),
                   softmax(zs[i] / T - 1000 * onehot))
    n = zs.shape[0]
    tckd, nckd = T * T * tckd / n, T * T * nckd / n
    return tckd, nckd, alpha * tckd + beta * nckd


def inputs(n, c, dtype=torch.float64, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=dtype) * scale,
            torch.randn(n, c, generator=g, dtype=dtype) * scale,
            torch.randint(0, c, (n,), generator=g))


def test_hand_values():
    zs, zt, y = torch.tensor(ZS), torch.tensor(ZT), torch.tensor(Y)
    tckd, nckd = DKDLoss().parts(zs, zt, y)
    assert tckd.item() == pytest.approx(0.511301, abs=1e-5)
    assert nckd.item() == pytest.approx(0.306140, abs=1e-5)
    assert DKDLoss()(zs, zt, y).item() == pytest.approx(2.960418, abs=1e-5)
    ref = dkd_reference(ZS, ZT, Y, 1.0, 8.0, 4.0)
    assert ref == pytest.approx((0.511301, 0.306140, 2.960418), abs=1e-5)


@pytest.mark.parametrize('n,c,alpha,beta,T', [
    (2, 3, 1., 8., 4.), (7, 10, 2.5, 4., 4.), (64, 100, .5, 8., 1.),
    (7, 1000, 1., 8., 4.), (4096, 81, .8, .5, 1.)])
def test_matches_loop_reference(n, c, alpha, beta, T):
    zs, zt, y = inputs(n, c, seed=n + c)
    ref = dkd_reference(zs.numpy(), zt.numpy(), y.tolist(), alpha, beta, T)
    loss = DKDLoss(alpha, beta, T)
    assert [v.item() for v in loss.parts(zs, zt, y)] == pytest.approx(
        ref[:2], abs=1e-9)
    assert loss(zs, zt, y).item() == pytest.approx(ref[2], abs=1e-9)
    assert loss(zs.float(), zt.float(), y).item() == pytest.approx(
        ref[2], abs=1e-5)


def test_gradcheck_and_teacher_no_grad():
    zs, zt, y = inputs(4, 5, seed=1)
    zs.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: DKDLoss()(x, zt, y), (zs,))
    zs32 = zs.detach().float().requires_grad_(True)
    zt32 = zt.float().requires_grad_(True)
    DKDLoss()(zs32, zt32, y).backward()
    assert torch.isfinite(zs32.grad).all() and zs32.grad.abs().sum() > 0
    assert zt32.grad is None


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision_and_saturation(dtype):
    zs, zt, y = inputs(16, 81, seed=3, scale=8.0)
    # over-confident rows: p_gt rounds to 1, so a naive log(1 - p_gt) = -inf
    zs[0, y[0]] = 3e4
    zt[1, y[1]] = 3e4
    zs[2, y[2]] = -3e4
    zsh = zs.to(dtype).requires_grad_(True)
    out = DKDLoss()(zsh, zt.to(dtype), y)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(zsh.grad).all()
    fc = torch.nn.Linear(8, 10)
    with torch.autocast('cpu', dtype=dtype):
        zs_ac = fc(torch.randn(4, 8))
        out = DKDLoss()(zs_ac, torch.randn(4, 10), torch.tensor([0, 3, 9, 1]))
    assert zs_ac.dtype == dtype and torch.isfinite(out)


def test_loss_weight_and_registry():
    zs, zt, y = torch.tensor(ZS), torch.tensor(ZT), torch.tensor(Y)
    loss = MODELS.build(dict(type='DKDLoss', loss_weight=0.5))
    assert isinstance(loss, DKDLoss)
    assert loss(zs, zt, y).item() == pytest.approx(0.5 * 2.960418, abs=1e-5)
    only_t = DKDLoss(alpha=2., beta=0.)(zs, zt, y)
    assert only_t.item() == pytest.approx(2 * 0.511301, abs=1e-5)


def test_bad_inputs():
    zs, zt, y = torch.tensor(ZS), torch.tensor(ZT), torch.tensor(Y)
    with pytest.raises(ValueError, match=r'student_logits and teacher_logits'
                       r'.*\(2, 3\).*\(2, 4\)'):
        DKDLoss()(zs, torch.zeros(2, 4), y)
    with pytest.raises(ValueError, match=r'labels must lie in \[0, 2\].*'
                       r'student_logits.*\[0, 3\]'):
        DKDLoss()(zs, zt, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r'labels.*1-D integer'):
        DKDLoss()(zs, zt, y.float())
    with pytest.raises(ValueError, match=r'labels.*N=2'):
        DKDLoss()(zs, zt, y[:1])
    with pytest.raises(ValueError, match=r'student_logits.*C >= 2'):
        DKDLoss()(zs[:, :1], zt[:, :1], torch.tensor([0, 0]))
    with pytest.raises(ValueError, match='temperature'):
        DKDLoss(temperature=-1.)
