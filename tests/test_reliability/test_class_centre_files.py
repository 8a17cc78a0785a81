"""Fault catalogue: class-centre files (stale, damaged, interrupted).

The run's own cache (``<work_dir>/class_centers.pth``) that no longer fits
is recomputed (*survived*: the centres equal a clean computation); a file
the user gave (``centers_file``) that does not fit stops the run (*clear
error* naming it)."""
import os

import pytest
import torch

from nd_mmdet.engine.class_centers import (prepare_class_centers,
                                           save_class_centers)
from nd_mmdet.engine.dataset_identity import dataset_identity

K, D = 3, 4


class Dataset:
    """Samples ``i`` with label ``labels[i]`` and image ``{i}.png``."""

    def __init__(self, labels):
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, index):
        return dict(img_path=f'/data/{index}.png',
                    gt_label=self.labels[index])


class Loader(list):
    """Batches of sample indices over ``dataset`` (2 per batch)."""

    def __init__(self, dataset):
        super().__init__([list(range(i, min(i + 2, len(dataset))))
                          for i in range(0, len(dataset), 2)])
        self.dataset = dataset


class Distiller:
    """Teacher embedding of sample i: ``(i + 1) * one_hot(label)`` + 1."""

    device = torch.device('cpu')

    def __init__(self, loader, digest='teacher-a', nan=False):
        self.loader, self.teacher_digest, self.nan = loader, digest, nan
        self.installed = None

    def expected_centers_shape(self):
        return K, D

    def teacher_embeddings_for_centers(self, batch):
        labels = torch.tensor([self.loader.dataset.labels[i] for i in batch])
        embeds = torch.ones(len(batch), D)
        embeds[torch.arange(len(batch)), labels] += torch.tensor(
            batch, dtype=torch.float) + 1
        if self.nan:
            embeds[:] = float('nan')
        return embeds, labels

    def set_class_centers(self, centers, counts=None, source=None):
        self.installed = (centers, source)


class Log:
    def __init__(self):
        self.lines = []

    def info(self, message):
        self.lines.append(message)

    warning = info


LABELS = [0, 1, 2, 0, 1, 2]


def run(tmp_path, labels=LABELS, digest='teacher-a', centers_file=None,
        max_iters=None, nan=False):
    loader = Loader(Dataset(labels))
    distiller = Distiller(loader, digest, nan)
    log = Log()
    prepare_class_centers(distiller, loader, centers_file,
                          str(tmp_path / 'class_centers.pth'),
                          max_iters=max_iters, logger=log)
    return distiller.installed[0], log


def clean(tmp_path, **kwargs):
    fresh = tmp_path / 'clean'
    fresh.mkdir(exist_ok=True)
    return run(fresh, **kwargs)[0]


def _save(path, centers=None, counts=None, digest='teacher-a',
          labels=LABELS, max_iters=None):
    centers = torch.rand(K, D) + 1 if centers is None else centers
    counts = torch.full((K, ), 2) if counts is None else counts
    save_class_centers(str(path), centers, counts, digest,
                       dataset_identity(Dataset(labels)), max_iters)


STALE_CACHES = {
    'another teacher': dict(digest='teacher-b'),
    'another dataset': dict(labels=[0, 1, 2, 0, 1, 1]),
    'another split length': dict(labels=LABELS + [0, 1]),
    'wrong number of classes': dict(centers=torch.rand(K + 1, D)),
    'wrong width': dict(centers=torch.rand(K, D + 1)),
    'NaN rows of a failed run': dict(
        centers=torch.tensor([[float('nan')] * D] + [[1.0] * D] * 2)),
    'inf row': dict(centers=torch.tensor([[1.0] * D] * 2 +
                                         [[float('inf')] * D])),
    'a pre-pass that missed a class': dict(counts=torch.tensor([2, 0, 2]),
                                           max_iters=1),
}


@pytest.mark.parametrize('stale', list(STALE_CACHES),
                         ids=list(STALE_CACHES))
@pytest.mark.survived
def test_stale_work_dir_cache_is_recomputed(tmp_path, stale):
    cache = tmp_path / 'class_centers.pth'
    _save(cache, **STALE_CACHES[stale])
    centers, log = run(tmp_path)
    assert any('does not fit this run' in line and str(cache) in line
               for line in log.lines)
    torch.testing.assert_close(centers, clean(tmp_path))
    saved = torch.load(cache, weights_only=True)
    torch.testing.assert_close(saved['centers'], centers)
    assert saved['teacher_digest'] == 'teacher-a'


@pytest.mark.parametrize('damage', ['empty', 'truncated', 'not torch'])
@pytest.mark.survived
def test_damaged_work_dir_cache_is_recomputed(tmp_path, damage):
    cache = tmp_path / 'class_centers.pth'
    _save(cache)
    data = cache.read_bytes()
    cache.write_bytes({'empty': b'', 'truncated': data[:len(data) // 2],
                       'not torch': b'centres'}[damage])
    centers, log = run(tmp_path)
    assert any('does not fit this run' in line for line in log.lines)
    torch.testing.assert_close(centers, clean(tmp_path))


def test_fitting_cache_is_reused_unchanged(tmp_path):
    first, _ = run(tmp_path)
    stamp = os.stat(tmp_path / 'class_centers.pth').st_mtime_ns
    second, log = run(tmp_path)
    torch.testing.assert_close(first, second)
    assert os.stat(tmp_path / 'class_centers.pth').st_mtime_ns == stamp
    assert any('loading' in line for line in log.lines)


def test_moved_dataset_keeps_its_identity():
    moved = Dataset(LABELS)
    moved.get_data_info = lambda i: dict(img_path=f'/elsewhere/{i}.png',
                                         gt_label=LABELS[i])
    assert dataset_identity(moved) == dataset_identity(Dataset(LABELS))


@pytest.mark.parametrize('stale', list(STALE_CACHES)[:7],
                         ids=list(STALE_CACHES)[:7])
@pytest.mark.clear_error
def test_user_centre_file_that_does_not_fit_is_refused(tmp_path, stale):
    given = tmp_path / 'my_centres.pth'
    _save(given, **STALE_CACHES[stale])
    with pytest.raises(ValueError) as info:
        run(tmp_path, centers_file=str(given))
    assert str(given) in str(info.value)
    assert not (tmp_path / 'class_centers.pth').exists()


@pytest.mark.clear_error
def test_empty_user_centre_file_is_refused(tmp_path):
    given = tmp_path / 'my_centres.pth'
    given.write_bytes(b'')
    with pytest.raises(ValueError, match='is empty'):
        run(tmp_path, centers_file=str(given))


@pytest.mark.clear_error
def test_non_finite_teacher_saves_nothing(tmp_path):
    with pytest.raises(ValueError, match='non-finite') as info:
        run(tmp_path, nan=True)
    assert 'teacher_ckpt' in str(info.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.survived
def test_interrupted_centre_write_keeps_the_old_file(tmp_path, monkeypatch):
    cache = tmp_path / 'class_centers.pth'
    _save(cache, centers=torch.ones(K, D))
    monkeypatch.setattr(os, 'replace', _kill)
    with pytest.raises(KeyboardInterrupt):
        _save(cache, centers=torch.zeros(K, D))
    assert torch.equal(torch.load(cache, weights_only=True)['centers'],
                       torch.ones(K, D))
    assert os.listdir(tmp_path) == ['class_centers.pth']


def _kill(*args):
    raise KeyboardInterrupt


@pytest.mark.clear_error
def test_missing_class_names_the_centre_file(tmp_path):
    """ND on a class whose centre is empty: the error names the file."""
    from nd_mmdet.models.distillers.base_distiller import BaseDistiller
    from nd_mmdet.models.losses import NDLoss

    class Tiny(BaseDistiller):
        def expected_centers_shape(self):
            return K, D

    distiller = Tiny.__new__(Tiny)
    torch.nn.Module.__init__(distiller)
    distiller.class_centers_source = '/work/class_centers.pth'
    distiller.class_centers_empty = [1]
    err = ValueError('class_centers has zero-norm row(s) for class index [1]')
    text = str(distiller._centers_context(err))
    assert '/work/class_centers.pth' in text and 'max_iters' in text
    centers = torch.ones(K, D)
    centers[1] = 0
    with pytest.raises(ValueError, match='zero-norm'):
        NDLoss()(torch.ones(2, D), torch.ones(2, D), torch.tensor([0, 1]),
                 centers)


def _rewrite(path, edit):
    """Edit the tensors of a saved centre file, keeping its metadata (the
    recorded digests included)."""
    data = torch.load(path, weights_only=True)
    edit(data)
    torch.save(data, path)


def _permute(data):
    data['centers'] = data['centers'][[2, 0, 1]]


def _permute_with_counts(data):
    _permute(data)
    data['counts'] = data['counts'][[2, 0, 1]]


def _scale_one_row(data):
    data['centers'][1] *= 2


def _permute_counts(data):
    data['counts'] = data['counts'][[1, 0, 2]]


def _drop_digests(data):
    del data['row_digests']


ROW_EDITS = {
    'rows permuted': (_permute, r'row 0 holds the centre of class 2, row 1 '
                      r'holds the centre of class 0.*\(rows permuted\)'),
    'rows and counts permuted': (_permute_with_counts, r'rows permuted'),
    'counts permuted': (_permute_counts, 'per-class counts do not match'),
    'one row changed': (_scale_one_row, r'rows \[1\] were changed'),
    'no row digests (hand-made)': (_drop_digests, 'records no row digests'),
}


@pytest.mark.parametrize('edit', list(ROW_EDITS), ids=list(ROW_EDITS))
@pytest.mark.clear_error
def test_user_centre_file_with_edited_rows_is_refused(tmp_path, edit):
    """A centre file whose rows were permuted (to another class order) or
    changed after it was written, metadata kept: every other check passes
    (same teacher, dataset, counts, shape)."""
    given = tmp_path / 'my_centres.pth'
    _save(given, centers=torch.arange(K * D, dtype=torch.float32).reshape(
        K, D) + 1, counts=torch.tensor([2, 3, 4]))
    (tmp_path / 'ok').mkdir()
    run(tmp_path / 'ok', centers_file=str(given))  # as written: accepted
    function, message = ROW_EDITS[edit]
    _rewrite(given, function)
    with pytest.raises(ValueError, match=message) as info:
        run(tmp_path, centers_file=str(given))
    assert str(given) in str(info.value)


@pytest.mark.survived
def test_work_dir_cache_with_permuted_rows_is_recomputed(tmp_path):
    first, _ = run(tmp_path)
    _rewrite(tmp_path / 'class_centers.pth', _permute)
    again, log = run(tmp_path)
    assert any('rows permuted' in line for line in log.lines)
    torch.testing.assert_close(again, first)
