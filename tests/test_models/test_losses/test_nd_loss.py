"""NDLoss: hand values, float64 loop reference, gradients, low precision,
input errors, weight and registry."""
import math

import numpy as np
import pytest
import torch

from nd_mmdet.models.losses import NDLoss
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)


def nd_reference(s, t, y, c):
    """Per-sample loop in numpy float64, straight from the formula."""
    s, t, c = (np.asarray(a, dtype=np.float64) for a in (s, t, c))
    total = 0.0
    for i, k in enumerate(np.asarray(y)):
        u = c[k] / np.linalg.norm(c[k])
        denom = max(np.linalg.norm(s[i]), np.linalg.norm(t[i]))
        # both norms ~0 (<= eps = 1e-6): undefined direction, term is 1
        total += 1.0 - (float(s[i] @ u) / denom if denom > 1e-6 else 0.0)
    return total / len(y)


def random_inputs(n, d, k, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, d, generator=g, dtype=dtype)
    # teacher norms both above and below the student's
    scale = torch.rand(n, 1, generator=g, dtype=dtype) * 2 + 0.1
    t = torch.randn(n, d, generator=g, dtype=dtype) * scale
    c = torch.randn(k, d, generator=g, dtype=dtype) + 0.5
    y = torch.randint(0, k, (n,), generator=g)
    return s, t, y, c


HAND = dict(s=[[3., 4.], [1., 1.]], t=[[6., 8.], [.5, .5]],
            c=[[1., 0.], [0., 2.]], y=[0, 1])


def hand(dtype=torch.float32):
    return (torch.tensor(HAND['s'], dtype=dtype),
            torch.tensor(HAND['t'], dtype=dtype), torch.tensor(HAND['y']),
            torch.tensor(HAND['c'], dtype=dtype))


def test_hand_values():
    s, t, y, c = hand()
    loss = NDLoss()
    assert loss(s[:1], t[:1], y[:1], c).item() == pytest.approx(0.7, abs=1e-5)
    assert loss(s[1:], t[1:], y[1:], c).item() == pytest.approx(
        1 - 1 / math.sqrt(2), abs=1e-5)
    assert loss(s[1:], t[1:], y[1:], c).item() == pytest.approx(
        0.292893, abs=1e-5)
    assert loss(s, t, y, c).item() == pytest.approx(0.496447, abs=1e-5)
    assert nd_reference(*(a.numpy() for a in (s, t, y, c))) == \
        pytest.approx(0.496447, abs=1e-5)


@pytest.mark.parametrize('n,d,k', [(2, 3, 2), (7, 16, 5), (64, 128, 10),
                                   (7, 2048, 3), (4096, 1024, 81)])
def test_matches_loop_reference(n, d, k):
    s, t, y, c = random_inputs(n, d, k, seed=n + d)
    ref = nd_reference(s.numpy(), t.numpy(), y.numpy(), c.numpy())
    out64 = NDLoss()(s, t, y, c)
    assert out64.dtype == torch.float64
    assert out64.item() == pytest.approx(ref, abs=1e-10)
    out32 = NDLoss()(s.float(), t.float(), y, c.float())
    assert out32.dtype == torch.float32
    assert out32.item() == pytest.approx(ref, abs=1e-5)


def test_norm_branch_both_ways():
    """||s|| >= ||t||: pure 1 - cos; ||s|| < ||t||: norm ratio enters."""
    c = torch.tensor([[1., 0.]])
    y = torch.tensor([0])
    s = torch.tensor([[3., 4.]])
    assert NDLoss()(s, s / 2, y, c).item() == pytest.approx(1 - 0.6)
    assert NDLoss()(s, s * 2, y, c).item() == pytest.approx(1 - 0.3)


def test_gradcheck_student():
    s, t, y, c = random_inputs(5, 4, 3, seed=1)
    s.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: NDLoss()(x, t, y, c), (s,))


def test_teacher_and_centres_get_no_grad():
    s, t, y, c = random_inputs(6, 5, 3, dtype=torch.float32, seed=2)
    s.requires_grad_(True)
    t.requires_grad_(True)
    c.requires_grad_(True)
    NDLoss()(s, t, y, c).backward()
    assert s.grad is not None and torch.isfinite(s.grad).all()
    assert s.grad.abs().sum() > 0
    assert t.grad is None and c.grad is None
    # plain (non-grad) teacher inputs work as well
    s2 = s.detach().clone().requires_grad_(True)
    NDLoss()(s2, t.detach(), y, c.detach()).backward()
    assert torch.allclose(s2.grad, s.grad)


def test_zero_embeddings_are_finite():
    s = torch.zeros(3, 4, requires_grad=True)
    t = torch.zeros(3, 4)
    c = torch.eye(4)[:2]
    y = torch.tensor([0, 1, 1])
    out = NDLoss()(s, t, y, c)
    assert out.item() == pytest.approx(1.0)
    out.backward()
    assert torch.equal(s.grad, torch.zeros_like(s.grad))
    # zero student, non-zero teacher: well defined, pushes s along u_y
    s = torch.zeros(1, 2, requires_grad=True)
    out = NDLoss()(s, torch.tensor([[0., 2.]]), torch.tensor([0]),
                   torch.tensor([[4., 0.]]))
    assert out.item() == pytest.approx(1.0)
    out.backward()
    assert torch.allclose(s.grad, torch.tensor([[-0.5, 0.]]))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision_tensors(dtype):
    s, t, y, c = random_inputs(64, 1024, 10, dtype=torch.float64, seed=3)
    s, t = s * 100, t * 100  # fp16 sum of squares would overflow (> 65504)
    s[0] = 0
    t[0] = 0  # zero student and zero teacher in one row
    ref = nd_reference(s.to(dtype).double().numpy(),
                       t.to(dtype).double().numpy(), y.numpy(),
                       c.to(dtype).double().numpy())
    sh = s.to(dtype).requires_grad_(True)
    out = NDLoss()(sh, t.to(dtype), y, c.to(dtype))
    assert out.dtype == torch.float32
    assert torch.isfinite(out)
    assert out.item() == pytest.approx(ref, abs=1e-4)
    out.backward()
    assert sh.grad.dtype == dtype and torch.isfinite(sh.grad).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_under_autocast(dtype):
    torch.manual_seed(0)
    fc = torch.nn.Linear(32, 16)
    x = torch.randn(8, 32)
    x[0] = 0
    fc.bias.data.zero_()
    t = torch.randn(8, 16)
    t[0] = 0
    c = torch.randn(4, 16)
    y = torch.randint(0, 4, (8,))
    with torch.autocast('cpu', dtype=dtype):
        s = fc(x)
        out = NDLoss()(s, t, y, c)
    assert s.dtype == dtype
    assert out.dtype == torch.float32 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(fc.weight.grad).all()


def test_loss_weight_scales():
    s, t, y, c = random_inputs(7, 6, 3, seed=4)
    base = NDLoss()(s, t, y, c)
    assert NDLoss(loss_weight=2.5)(s, t, y, c).item() == pytest.approx(
        2.5 * base.item())


def test_registry_build():
    loss = MODELS.build(dict(type='NDLoss', loss_weight=2.))
    assert isinstance(loss, NDLoss) and loss.loss_weight == 2.
    s, t, y, c = hand()
    assert loss(s, t, y, c).item() == pytest.approx(2 * 0.496447, abs=1e-5)


def _raises(match, *args):
    with pytest.raises(ValueError, match=match):
        NDLoss()(*args)


def test_bad_inputs():
    s, t, y, c = hand()
    _raises(r'student_embed and teacher_embed.*\(2, 2\).*\(3, 2\)', s,
            torch.ones(3, 2), y, c)  # N differs
    _raises(r'teacher_embed.*\(2, 3\)', s, torch.ones(2, 3), y, c)  # D
    _raises(r'student_embed.*\(2,\)', s[0], t, y, c)
    _raises(r'labels.*1-D integer', s, t, y.float(), c)
    _raises(r'labels.*1-D integer', s, t, y.view(2, 1), c)
    _raises(r'labels.*N=2', s, t, torch.tensor([0, 1, 1]), c)
    _raises(r'labels must lie in \[0, 1\].*class_centers.*\[0, 2\]', s, t,
            torch.tensor([0, 2]), c)
    _raises(r'labels must lie in \[0, 1\].*\[-1, 1\]', s, t,
            torch.tensor([-1, 1]), c)
    _raises(r'class_centers.*D=2.*\(2, 3\)', s, t, y, torch.ones(2, 3))
    c_zero = c.clone()
    c_zero[1] = 0
    _raises(r'class_centers.*class index \[1\]', s, t, y, c_zero)
    # a zero centre that no label uses is fine
    assert torch.isfinite(NDLoss()(s, t, torch.tensor([0, 0]), c_zero))


def test_ignore_index_leaves_those_samples_out():
    """The hand example: per-sample 0.7 (class 0) and 0.292893 (class 1);
    leaving one class out gives the other's term, and its rows no
    gradient."""
    s, t, y, c = hand()
    s.requires_grad_(True)
    only_1 = NDLoss(ignore_index=0)(s, t, y, c)
    assert only_1.item() == pytest.approx(0.292893, abs=1e-5)
    only_1.backward()
    assert torch.equal(s.grad[0], torch.zeros(2))
    assert s.grad[1].abs().sum() > 0
    assert NDLoss(ignore_index=1)(s, t, y, c).item() == pytest.approx(
        0.7, abs=1e-5)
    # an index no sample has changes nothing; every sample ignored -> 0
    assert NDLoss(ignore_index=5)(s, t, y, c).item() == pytest.approx(
        0.496447, abs=1e-5)
    s.grad = None
    none = NDLoss(ignore_index=0)(s, t, torch.zeros(2, dtype=torch.long), c)
    none.backward()
    assert none.item() == 0.0 and torch.equal(s.grad, torch.zeros(2, 2))
    with pytest.raises(ValueError, match='ignore_index must be an int'):
        NDLoss(ignore_index=1.0)
