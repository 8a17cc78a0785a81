"""Class-centre pre-pass: values, DDP-style reduction, file checks."""
import pytest
import torch

from nd_mmdet.engine import (compute_class_centers, load_class_centers,
                             save_class_centers)
from nd_mmdet.engine.hooks import DistillLossWarmupHook

torch.set_num_threads(1)


class FakeDistiller:
    """Embeddings are the data itself, so centres are plain class means."""
    device = torch.device('cpu')
    teacher_digest = 'abc123'

    def expected_centers_shape(self):
        return 3, 2

    def teacher_embeddings_for_centers(self, data):
        return data['x'], data['y']


def loader():
    x = torch.tensor([[1., 0.], [3., 0.], [0., 2.], [0., 4.], [5., 5.]])
    y = torch.tensor([0, 0, 1, 1, 2])
    return [dict(x=x[:2], y=y[:2]), dict(x=x[2:], y=y[2:])]


def test_centres_are_class_means():
    centers, counts = compute_class_centers(FakeDistiller(), loader())
    torch.testing.assert_close(
        centers, torch.tensor([[2., 0.], [0., 3.], [5., 5.]]))
    assert counts.tolist() == [2, 2, 1]


def test_max_iters_limits_the_pass():
    centers, counts = compute_class_centers(FakeDistiller(), loader(),
                                            max_iters=1)
    assert counts.tolist() == [2, 0, 0]
    torch.testing.assert_close(centers[1], torch.zeros(2))


def test_label_out_of_range_is_an_error():
    data = [dict(x=torch.ones(1, 2), y=torch.tensor([3]))]
    with pytest.raises(ValueError, match=r'label 3 outside \[0, 3\)'):
        compute_class_centers(FakeDistiller(), data)


def test_round_trip_and_checks(tmp_path):
    path = str(tmp_path / 'centres.pth')
    centers = torch.rand(3, 2)
    save_class_centers(path, centers, torch.tensor([1, 2, 3]), 'abc123')
    torch.testing.assert_close(load_class_centers(path, 3, 2, 'abc123'),
                               centers)
    with pytest.raises(ValueError, match=r'shape \(3, 2\).*4 classes x 2-d'):
        load_class_centers(path, 4, 2, 'abc123')
    with pytest.raises(ValueError, match='another teacher checkpoint'):
        load_class_centers(path, 3, 2, 'other')


def test_pickled_callable_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(centers=torch.rand(3, 2), hook=print), path)
    with pytest.raises(ValueError, match='refuses.*not loaded'):
        load_class_centers(path, 3, 2)


def test_truncated_file_is_an_error(tmp_path):
    path = tmp_path / 'cut.pth'
    save_class_centers(str(path), torch.rand(3, 2), torch.ones(3), 'abc')
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match='truncated or not a torch file'):
        load_class_centers(str(path), 3, 2)


@pytest.mark.parametrize('epoch,expected', [(0, 0.05), (9, 0.5), (19, 1.0),
                                            (30, 1.0)])
def test_warmup_factor_by_epoch(epoch, expected):
    hook = DistillLossWarmupHook(warmup_epochs=20)
    assert hook.factor(epoch, 0) == pytest.approx(expected)


def test_warmup_factor_by_iter_and_errors():
    hook = DistillLossWarmupHook(by_epoch=False, warmup_iters=4)
    assert [hook.factor(0, i) for i in range(5)] == [0.25, 0.5, 0.75, 1, 1]
    with pytest.raises(ValueError, match='warmup_iters'):
        DistillLossWarmupHook(by_epoch=False)
    with pytest.raises(ValueError, match='warmup_epochs'):
        DistillLossWarmupHook(warmup_epochs=0)


def test_prepass_log_states_the_real_number_of_batches(tmp_path):
    """max_iters=200 over a 3-batch loader: the log says 3 batches (one
    pass), not 200."""
    from nd_mmdet.engine.class_centers import (prepare_class_centers,
                                               prepass_length)

    class Distiller:
        teacher_digest = 'abc'
        device = torch.device('cpu')

        def expected_centers_shape(self):
            return 2, 3

        def teacher_embeddings_for_centers(self, data):
            return torch.ones(len(data), 3), torch.tensor(data)

        def set_class_centers(self, centers, counts=None, source=None):
            self.centers = centers

    class Log:
        lines = []

        def info(self, message):
            self.lines.append(message)

        warning = info

    loader = [[0, 1], [1], [0]]
    assert prepass_length(loader, 200) == 3 and prepass_length(loader, 2) == 2
    log = Log()
    prepare_class_centers(Distiller(), loader, None,
                          str(tmp_path / 'centres.pth'), max_iters=200,
                          logger=log)
    assert any('over 3 batches of the training data (one pass)' in line
               for line in log.lines), log.lines


def test_prepass_without_any_nd_row_stops(tmp_path):
    """Every ground-truth box below box_min_size: no ND row in the pre-pass,
    so ND would be 0 at every iteration; it stops naming box_min_size, and
    no centre file is written."""
    import os.path as osp

    from nd_mmdet.engine.class_centers import prepare_class_centers

    class Distiller(FakeDistiller):
        box_min_size = 64.0

        def teacher_embeddings_for_centers(self, data):
            return torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)

    path = str(tmp_path / 'centres.pth')
    with pytest.raises(ValueError, match=r'no ND row in 2 batches .*'
                       r'box_min_size=64.0 px'):
        prepare_class_centers(Distiller(), loader(), None, path)
    assert not osp.exists(path)
