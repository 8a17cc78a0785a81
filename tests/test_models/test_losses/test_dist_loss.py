"""DISTLoss: hand values, float64 loop reference, gradients, zero variance,
low precision, input errors, weight and registry."""
import numpy as np
import pytest
import torch

from nd_mmdet.models.losses import DISTLoss
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)

ZS = [[1., 2., 3.], [.5, -1., 2.]]
ZT = [[2., 1., 0.], [1., 1., 3.]]
EPS = 1e-8


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + EPS)


def dist_reference(zs, zt, beta, gamma, tau):
    """Loops in numpy float64; returns (inter, intra, total)."""
    zs, zt = np.asarray(zs, np.float64), np.asarray(zt, np.float64)
    n, c = zs.shape
    ys = np.stack([softmax(zs[i] / tau) for i in range(n)])
    yt = np.stack([softmax(zt[i] / tau) for i in range(n)])
    inter = 1 - sum(pearson(ys[i], yt[i]) for i in range(n)) / n
    intra = 1 - sum(pearson(ys[:, j], yt[:, j]) for j in range(c)) / c
    return inter, intra, tau * tau * (beta * inter + gamma * intra)


def logits(n, c, dtype=torch.float64, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=dtype) * scale,
            torch.randn(n, c, generator=g, dtype=dtype) * scale)


def test_hand_values():
    zs, zt = torch.tensor(ZS), torch.tensor(ZT)
    inter, intra = DISTLoss().parts(zs, zt)
    assert inter.item() == pytest.approx(0.940935, abs=1e-5)
    assert intra.item() == pytest.approx(0.666667, abs=1e-5)
    assert DISTLoss()(zs, zt).item() == pytest.approx(1.607601, abs=1e-5)
    assert DISTLoss(tau=4.)(zs, zt).item() == pytest.approx(27.270176,
                                                             abs=1e-5)
    assert dist_reference(ZS, ZT, 1., 1., 1.) == pytest.approx(
        (0.940935, 0.666667, 1.607601), abs=1e-5)


@pytest.mark.parametrize('n,c,beta,gamma,tau', [
    (2, 3, 1., 1., 1.), (7, 10, 2., 1., 4.), (64, 100, 1., 2., 1.),
    (7, 1000, 1., 1., 4.), (4096, 81, 1., 1., 1.)])
def test_matches_loop_reference(n, c, beta, gamma, tau):
    zs, zt = logits(n, c, seed=n + c)
    ref = dist_reference(zs.numpy(), zt.numpy(), beta, gamma, tau)
    loss = DISTLoss(beta, gamma, tau)
    assert [v.item() for v in loss.parts(zs, zt)] == pytest.approx(
        ref[:2], abs=1e-9)
    assert loss(zs, zt).item() == pytest.approx(ref[2], abs=1e-9)
    assert loss(zs.float(), zt.float()).item() == pytest.approx(
        ref[2], abs=1e-4 * tau * tau)


def test_gradcheck_and_teacher_no_grad():
    zs, zt = logits(5, 4, seed=1)
    zs.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: DISTLoss(tau=2.)(x, zt), (zs,))
    zs32 = zs.detach().float().requires_grad_(True)
    zt32 = zt.float().requires_grad_(True)
    DISTLoss()(zs32, zt32).backward()
    assert torch.isfinite(zs32.grad).all() and zs32.grad.abs().sum() > 0
    assert zt32.grad is None


def test_zero_variance_is_finite():
    # same logits in every row: every class column is constant (intra 0/0)
    row = torch.tensor([[1., 2., 3., 4.]])
    zs = row.repeat(3, 1).requires_grad_(True)
    inter, intra = DISTLoss().parts(zs, row.repeat(3, 1))
    assert inter.item() == pytest.approx(0.0, abs=1e-6)
    assert intra.item() == pytest.approx(1.0)
    # uniform rows: every sample row is constant too
    zs = torch.zeros(3, 4, requires_grad=True)
    out = DISTLoss()(zs, torch.zeros(3, 4))
    assert out.item() == pytest.approx(2.0)
    out.backward()
    assert torch.isfinite(zs.grad).all()
    one = torch.randn(1, 5, requires_grad=True)  # N = 1
    DISTLoss()(one, torch.randn(1, 5)).backward()
    assert torch.isfinite(one.grad).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision(dtype):
    zs, zt = logits(32, 81, seed=3, scale=8.0)
    zs[0, 0] = 6e4
    zsh = zs.to(dtype).requires_grad_(True)
    out = DISTLoss()(zsh, zt.to(dtype))
    ref = dist_reference(zs.to(dtype).double().numpy(),
                         zt.to(dtype).double().numpy(), 1., 1., 1.)[2]
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert out.item() == pytest.approx(ref, abs=1e-4)
    out.backward()
    assert torch.isfinite(zsh.grad).all()
    fc = torch.nn.Linear(8, 10)
    with torch.autocast('cpu', dtype=dtype):
        zs_ac = fc(torch.randn(4, 8))
        out = DISTLoss()(zs_ac, torch.randn(4, 10))
    assert zs_ac.dtype == dtype and torch.isfinite(out)


def test_loss_weight_and_registry():
    zs, zt = torch.tensor(ZS), torch.tensor(ZT)
    loss = MODELS.build(dict(type='DISTLoss', loss_weight=2.))
    assert isinstance(loss, DISTLoss)
    assert loss(zs, zt).item() == pytest.approx(2 * 1.607601, abs=1e-5)
    assert DISTLoss(beta=2., gamma=0.)(zs, zt).item() == pytest.approx(
        2 * 0.940935, abs=1e-5)


def test_bad_inputs():
    zs = torch.tensor(ZS)
    with pytest.raises(ValueError, match=r'student_logits and teacher_logits'
                       r'.*\(2, 3\).*\(3, 3\)'):
        DISTLoss()(zs, torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r'teacher_logits.*\(N, C\)'):
        DISTLoss()(zs, torch.zeros(2, 3, 1))
    with pytest.raises(ValueError, match='tau'):
        DISTLoss(tau=0.)
