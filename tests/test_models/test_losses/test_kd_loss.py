"""KDLoss: hand values, float64 loop reference, gradients, low precision,
input errors, weight and registry."""
import numpy as np
import pytest
import torch

from nd_mmdet.models.losses import KDLoss
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)

ZS = [[1., 2., 3.], [.5, -1., 2.]]
ZT = [[2., 1., 0.], [1., 1., 3.]]


def log_softmax(z):
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def kd_reference(zs, zt, T):
    """Per-sample loop in numpy float64 (log-probabilities computed as
    ``z - max - log(sum(exp(z - max)))`` so saturated rows stay finite)."""
    zs, zt = np.asarray(zs, np.float64), np.asarray(zt, np.float64)
    total = 0.0
    for i in range(zs.shape[0]):
        log_ps, log_pt = log_softmax(zs[i] / T), log_softmax(zt[i] / T)
        total += sum(np.exp(log_pt[c]) * (log_pt[c] - log_ps[c])
                     for c in range(len(log_pt)))
    return T * T * total / zs.shape[0]


def logits(n, c, dtype=torch.float64, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=dtype) * scale,
            torch.randn(n, c, generator=g, dtype=dtype) * scale)


@pytest.mark.parametrize('T,expected', [(1.0, 0.602720), (4.0, 0.738460)])
def test_hand_values(T, expected):
    out = KDLoss(temperature=T)(torch.tensor(ZS), torch.tensor(ZT))
    assert out.item() == pytest.approx(expected, abs=1e-5)
    assert kd_reference(ZS, ZT, T) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize('n,c,T', [(2, 3, 1.0), (7, 10, 4.0), (64, 100, 2.0),
                                   (7, 1000, 4.0), (4096, 81, 1.0)])
def test_matches_loop_reference(n, c, T):
    zs, zt = logits(n, c, seed=n + c)
    ref = kd_reference(zs.numpy(), zt.numpy(), T)
    assert KDLoss(T)(zs, zt).item() == pytest.approx(ref, abs=1e-10)
    assert KDLoss(T)(zs.float(), zt.float()).item() == pytest.approx(
        ref, abs=1e-5)


def test_gradcheck_and_teacher_no_grad():
    zs, zt = logits(4, 5, seed=1)
    zs.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: KDLoss(2.0)(x, zt), (zs,))
    zs32 = zs.detach().float().requires_grad_(True)
    zt32 = zt.float().requires_grad_(True)
    KDLoss()(zs32, zt32).backward()
    assert torch.isfinite(zs32.grad).all() and zs32.grad.abs().sum() > 0
    assert zt32.grad is None


def test_identical_logits_give_zero():
    zs, _ = logits(5, 7, seed=2)
    assert KDLoss()(zs, zs.clone()).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision(dtype):
    zs, zt = logits(16, 81, seed=3, scale=8.0)
    zs[0, 0], zt[1, 3] = 6e4, -6e4  # near the fp16 limit: saturated soft-max
    zsh = zs.to(dtype).requires_grad_(True)
    out = KDLoss(1.0)(zsh, zt.to(dtype))
    assert out.dtype == torch.float32 and torch.isfinite(out)
    ref = kd_reference(zs.to(dtype).double().numpy(),
                       zt.to(dtype).double().numpy(), 1.0)
    assert out.item() == pytest.approx(ref, rel=1e-4)
    out.backward()
    assert torch.isfinite(zsh.grad).all()
    fc = torch.nn.Linear(8, 10)
    with torch.autocast('cpu', dtype=dtype):
        zs_ac = fc(torch.randn(4, 8))
        out = KDLoss()(zs_ac, torch.randn(4, 10))
    assert zs_ac.dtype == dtype and torch.isfinite(out)


def test_loss_weight_and_registry():
    zs, zt = torch.tensor(ZS), torch.tensor(ZT)
    loss = MODELS.build(dict(type='KDLoss', temperature=1.0, loss_weight=3.))
    assert isinstance(loss, KDLoss)
    assert loss(zs, zt).item() == pytest.approx(3 * 0.602720, abs=1e-5)


def test_bad_inputs():
    zs = torch.tensor(ZS)
    with pytest.raises(ValueError, match=r'student_logits and teacher_logits'
                       r'.*\(2, 3\).*\(2, 4\)'):
        KDLoss()(zs, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r'student_logits.*\(N, C\).*\(3,\)'):
        KDLoss()(zs[0], zs[0])
    with pytest.raises(ValueError, match='teacher_logits'):
        KDLoss()(zs, torch.zeros(3, 3))
    with pytest.raises(ValueError, match='temperature'):
        KDLoss(temperature=0.)
