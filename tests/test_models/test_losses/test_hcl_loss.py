"""HCLLoss: hand values, float64 loop reference (explicit adaptive pooling),
gradients, low precision, input errors, weight and registry."""
import math

import numpy as np
import pytest
import torch

from nd_mmdet.models.losses import HCLLoss
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)


def pool(x, size):
    """Adaptive average pooling of a (C, H, W) array to (C, size, size):
    bin i covers rows floor(i*H/size) .. ceil((i+1)*H/size) - 1."""
    c, h, w = x.shape
    out = np.zeros((c, size, size))
    for i in range(size):
        r0, r1 = (i * h) // size, math.ceil((i + 1) * h / size)
        for j in range(size):
            c0, c1 = (j * w) // size, math.ceil((j + 1) * w / size)
            out[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return out


def hcl_reference(student, teacher):
    """Loop over levels and images in numpy float64. Pooled sizes l in
    (4, 2, 1) with l < H; the j-th size used gets weight 0.5**j."""
    total = 0.0
    for s, t in zip(student, teacher):
        s, t = np.asarray(s, np.float64), np.asarray(t, np.float64)
        n, h = s.shape[0], s.shape[2]
        level, weights, w = np.mean((s - t) ** 2), 1.0, 1.0
        for size in (4, 2, 1):
            if size < h:
                w /= 2
                mse = sum(np.mean((pool(s[i], size) - pool(t[i], size)) ** 2)
                          for i in range(n)) / n
                level += w * mse
                weights += w
        total += level / weights
    return total


def test_hand_values():
    z = torch.zeros
    loss = HCLLoss()
    a4 = torch.arange(16.).view(1, 1, 4, 4) / 16
    a8 = torch.arange(64.).view(1, 1, 8, 8) / 64
    two = torch.full((1, 1, 1, 1), 2.)
    assert loss([a4], [z(1, 1, 4, 4)]).item() == pytest.approx(0.286133,
                                                              abs=1e-5)
    assert loss([a8], [z(1, 1, 8, 8)]).item() == pytest.approx(0.316305,
                                                              abs=1e-5)
    assert loss([two], [z(1, 1, 1, 1)]).item() == pytest.approx(4.0,
                                                               abs=1e-5)
    # summed over levels
    both = loss([a4, a8], [z(1, 1, 4, 4), z(1, 1, 8, 8)])
    assert both.item() == pytest.approx(0.286133 + 0.316305, abs=1e-5)
    ref = hcl_reference([a4.numpy(), a8.numpy(), two.numpy()],
                        [z(1, 1, 4, 4).numpy(), z(1, 1, 8, 8).numpy(),
                         z(1, 1, 1, 1).numpy()])
    assert ref == pytest.approx(0.286133 + 0.316305 + 4.0, abs=1e-5)


SHAPES = [
    [(2, 3, 1, 1)],
    [(2, 4, 2, 3), (2, 4, 3, 3)],
    [(7, 8, 5, 7), (7, 8, 13, 13)],
    # FPN-like P2..P6 of a small detector input (non-square, non-divisible)
    [(2, 16, 50, 76), (2, 16, 25, 38), (2, 16, 13, 19), (2, 16, 7, 10),
     (2, 16, 4, 5)],
]


@pytest.mark.parametrize('shapes', SHAPES)
def test_matches_loop_reference(shapes):
    g = torch.Generator().manual_seed(len(shapes))
    s = [torch.randn(sh, generator=g, dtype=torch.float64) for sh in shapes]
    t = [torch.randn(sh, generator=g, dtype=torch.float64) for sh in shapes]
    ref = hcl_reference([x.numpy() for x in s], [x.numpy() for x in t])
    assert HCLLoss()(s, t).item() == pytest.approx(ref, abs=1e-10)
    out32 = HCLLoss()([x.float() for x in s], [x.float() for x in t])
    assert out32.item() == pytest.approx(ref, abs=1e-5)


def test_gradcheck_and_teacher_no_grad():
    g = torch.Generator().manual_seed(1)
    s = [torch.randn(2, 2, 5, 5, generator=g, dtype=torch.float64,
                     requires_grad=True),
         torch.randn(2, 3, 3, 2, generator=g, dtype=torch.float64,
                     requires_grad=True)]
    t = [torch.randn(x.shape, generator=g, dtype=torch.float64) for x in s]
    assert torch.autograd.gradcheck(lambda a, b: HCLLoss()([a, b], t),
                                    tuple(s))
    s32 = [x.detach().float().requires_grad_(True) for x in s]
    t32 = [x.float().requires_grad_(True) for x in t]
    HCLLoss()(s32, t32).backward()
    for x in s32:
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(x.grad is None for x in t32)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision(dtype):
    g = torch.Generator().manual_seed(2)
    s = [torch.randn(2, 4, 16, 16, generator=g) * 200,  # squares > fp16 max
         torch.zeros(2, 4, 3, 3)]
    t = [torch.randn(2, 4, 16, 16, generator=g), torch.zeros(2, 4, 3, 3)]
    sh = [x.to(dtype).requires_grad_(True) for x in s]
    out = HCLLoss()(sh, [x.to(dtype) for x in t])
    ref = hcl_reference([x.to(dtype).double().numpy() for x in s],
                        [x.to(dtype).double().numpy() for x in t])
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert out.item() == pytest.approx(ref, rel=1e-5)
    out.backward()
    assert all(torch.isfinite(x.grad).all() for x in sh)
    conv = torch.nn.Conv2d(3, 4, 1)
    with torch.autocast('cpu', dtype=dtype):
        feat = conv(torch.randn(1, 3, 8, 8))
        out = HCLLoss()([feat], [torch.randn(1, 4, 8, 8)])
    assert feat.dtype == dtype and torch.isfinite(out)


def test_loss_weight_and_registry():
    a4 = torch.arange(16.).view(1, 1, 4, 4) / 16
    loss = MODELS.build(dict(type='HCLLoss', loss_weight=1.2))
    assert isinstance(loss, HCLLoss)
    assert loss([a4], [torch.zeros_like(a4)]).item() == pytest.approx(
        1.2 * 0.286133, abs=1e-5)


def test_bad_inputs():
    a = torch.zeros(2, 3, 8, 8)
    b = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r'student_feats and teacher_feats.*'
                       r'lengths 2 and 1'):
        HCLLoss()([a, b], [a])
    with pytest.raises(ValueError, match=r'level 1.*student_feats\[1\].*'
                       r'\(2, 3, 4, 4\).*\(2, 3, 4, 5\)'):
        HCLLoss()([a, b], [a, torch.zeros(2, 3, 4, 5)])
    with pytest.raises(ValueError,
                       match=r'teacher_feats\[0\].*\(N, C, H, W\)'):
        HCLLoss()([a], [a[0]])
    with pytest.raises(ValueError, match=r'student_feats must be a list'):
        HCLLoss()(a, [a])
    with pytest.raises(ValueError, match='non-empty'):
        HCLLoss()([], [])
