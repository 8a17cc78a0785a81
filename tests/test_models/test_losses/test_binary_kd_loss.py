"""BinaryKDLoss: per-class Bernoulli KL against a float64 numpy reference,
a hand-checked value, gradcheck, temperature, edge cases and bad inputs."""
import math

import numpy as np
import pytest
import torch

from nd_mmdet.models.losses import BinaryKDLoss
from nd_mmdet.registry import MODELS


def reference(s, t, T=1.0):
    """float64 numpy: T^2 * mean_i sum_c KL(Bern(pt) || Bern(ps))."""
    s = np.asarray(s, np.float64) / T
    t = np.asarray(t, np.float64) / T
    ps, pt = 1 / (1 + np.exp(-s)), 1 / (1 + np.exp(-t))
    kl = pt * np.log(pt / ps) + (1 - pt) * np.log((1 - pt) / (1 - ps))
    return T**2 * kl.sum(axis=1).mean()


def test_registered():
    assert MODELS.get('BinaryKDLoss') is BinaryKDLoss


def test_hand_value():
    # one sample, one class: s = 0 (p_s = 1/2), t = log 3 (p_t = 3/4)
    # KL = 3/4 log(3/2) + 1/4 log(1/2)
    loss = BinaryKDLoss()(torch.tensor([[0.0]], dtype=torch.float64),
                          torch.tensor([[math.log(3)]], dtype=torch.float64))
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.130812, abs=1e-6)


@pytest.mark.parametrize('T', [1.0, 2.0, 4.0])
def test_matches_numpy_reference(T):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(7, 5, generator=g, dtype=torch.float64) * 3
    t = torch.randn(7, 5, generator=g, dtype=torch.float64) * 3
    loss = BinaryKDLoss(temperature=T, loss_weight=0.5)(s, t)
    assert loss.item() == pytest.approx(0.5 * reference(s, t, T), rel=1e-10)
    # float32 inputs: same value to float32 precision
    loss32 = BinaryKDLoss(temperature=T, loss_weight=0.5)(s.float(),
                                                          t.float())
    assert loss32.dtype == torch.float32
    assert loss32.item() == pytest.approx(loss.item(), rel=1e-5)


def test_zero_when_equal_and_nonnegative():
    x = torch.randn(4, 3)
    assert BinaryKDLoss()(x, x.clone()).item() == pytest.approx(0, abs=1e-7)
    assert BinaryKDLoss()(torch.randn(4, 3), torch.randn(4, 3)).item() > 0


def test_large_logits_finite():
    s = torch.tensor([[-200.0, 200.0, 0.0]])
    t = torch.tensor([[200.0, -200.0, 30.0]])
    loss = BinaryKDLoss()(s.requires_grad_(), t)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(s.grad).all()


def test_gradcheck_and_teacher_detached():
    s = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    loss_fn = BinaryKDLoss(temperature=2.0, loss_weight=1.3)
    assert torch.autograd.gradcheck(lambda a: loss_fn(a, t), (s, ))
    loss_fn(s, t).backward()
    assert t.grad is None
    # analytic gradient: T^2/N * (sigmoid(s/T) - sigmoid(t/T)) / T
    s2 = s.detach().clone().requires_grad_()
    BinaryKDLoss(temperature=2.0)(s2, t.detach()).backward()
    expected = 4.0 / 3 * (torch.sigmoid(s / 2) - torch.sigmoid(t / 2)) / 2
    torch.testing.assert_close(s2.grad, expected.detach())


def test_half_precision_upcast():
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    loss = BinaryKDLoss()(s.half(), t.half())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(
        BinaryKDLoss()(s.half().float(), t.half().float()).item(), rel=1e-6)


def test_empty_batch_zero_with_graph():
    s = torch.zeros(0, 3, requires_grad=True)
    loss = BinaryKDLoss()(s, torch.zeros(0, 3))
    assert loss.item() == 0
    loss.backward()


def test_bad_inputs():
    with pytest.raises(ValueError, match='temperature'):
        BinaryKDLoss(temperature=0)
    with pytest.raises(ValueError, match='same shape'):
        BinaryKDLoss()(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        BinaryKDLoss()(torch.randn(2, 3, 1), torch.randn(2, 3, 1))
    with pytest.raises(ValueError, match='floating'):
        BinaryKDLoss()(torch.ones(2, 3, dtype=torch.long),
                       torch.ones(2, 3, dtype=torch.long))
