"""preserved_rng and PrivateStream: global states put back, a private stream
that continues across blocks and restarts on reseed."""
import random

import numpy as np
import torch

from nd_mmdet.engine.class_centers import compute_class_centers
from nd_mmdet.utils.rng import PrivateStream, preserved_rng


def draws():
    return (random.random(), float(np.random.rand()), torch.rand(3))


def same(a, b):
    return a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_preserved_rng_puts_every_global_state_back():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = draws()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with preserved_rng():
        draws(), draws()
    assert same(draws(), expected)


def test_preserved_rng_restores_after_an_exception():
    torch.manual_seed(2)
    expected = torch.rand(2)
    torch.manual_seed(2)
    try:
        with preserved_rng():
            torch.rand(10)
            raise RuntimeError('boom')
    except RuntimeError:
        pass
    assert torch.equal(torch.rand(2), expected)


def test_private_stream_continues_across_blocks_and_leaves_global():
    reference = torch.rand(6, generator=torch.Generator().manual_seed(7))
    stream = PrivateStream(7)
    torch.manual_seed(0)
    global_expected = torch.rand(2)
    torch.manual_seed(0)
    with stream():
        first = torch.rand(3)
    with stream():
        second = torch.rand(3)
    assert torch.equal(torch.cat([first, second]), reference)
    assert torch.equal(torch.rand(2), global_expected)
    # dropout masks come from the stream too: the 7th draw on
    with stream():
        mask = torch.nn.functional.dropout(torch.ones(50), 0.5)
    torch.manual_seed(7)
    torch.rand(6)
    assert torch.equal(mask, torch.nn.functional.dropout(torch.ones(50), 0.5))
    torch.manual_seed(8)
    torch.rand(6)
    assert not torch.equal(mask,
                           torch.nn.functional.dropout(torch.ones(50), 0.5))
    stream.reseed(7)
    with stream():
        assert torch.equal(torch.rand(6), reference)


class _DrawingDistiller:
    """Teacher embeddings of one class, drawing numbers like a detector's
    sampler and a loader's augmentations do."""
    device = torch.device('cpu')

    def expected_centers_shape(self):
        return 2, 3

    def teacher_embeddings_for_centers(self, data):
        random.random(), np.random.rand(), torch.randperm(10)
        return torch.ones(2, 3) * data, torch.tensor([0, 1])


def test_class_centre_prepass_leaves_the_global_streams():
    random.seed(4), np.random.seed(4), torch.manual_seed(4)
    expected = draws()
    random.seed(4), np.random.seed(4), torch.manual_seed(4)
    centers, counts = compute_class_centers(_DrawingDistiller(),
                                            [1.0, 3.0])
    assert same(draws(), expected)
    assert torch.equal(counts, torch.tensor([2, 2]))
    assert torch.allclose(centers, torch.full((2, 3), 2.0))
