"""nd_mmdet.compare.plots: mmengine's scalars read back (a resumed run's
folders joined, validation by epoch placed at the epoch's last
iteration) and the PNGs written."""
import json
import os

from nd_mmdet.compare.plots import plot_curves, read_scalars

PNG = b'\x89PNG\r\n\x1a\n'


def _scalars(run_dir, stamp, entries):
    folder = os.path.join(run_dir, stamp, 'vis_data')
    os.makedirs(folder)
    with open(os.path.join(folder, 'scalars.json'), 'w') as f:
        for entry in entries:
            f.write(json.dumps(entry) + '\n')
        f.write('{"loss": 9')  # a last line cut by a kill


def test_read_scalars_of_a_resumed_run(tmp_path):
    run = str(tmp_path / 'run')
    _scalars(run, '20260101_000000', [
        dict(loss=3.0, loss_kd=1.0, lr=0.1, iter=1, step=1),
        dict(loss=2.5, loss_kd=0.9, lr=0.1, iter=2, step=2)])
    # resumed from iteration 1: the later folder's value wins
    _scalars(run, '20260101_010000', [
        dict(loss=2.4, loss_kd=0.8, lr=0.1, iter=2, step=2),
        dict(loss=2.0, loss_kd=0.7, lr=0.1, iter=3, step=3),
        {'accuracy/top1': 55.0, 'step': 3}])
    series = read_scalars(run)
    assert series['loss'] == {1: 3.0, 2: 2.4, 3: 2.0}
    assert series['loss_kd'] == {1: 1.0, 2: 0.8, 3: 0.7}
    assert series['accuracy/top1'] == {3: 55.0}
    assert 'iter' not in series and 'step' not in series


def test_validation_by_epoch_at_the_epochs_last_iteration(tmp_path):
    run = str(tmp_path / 'run')
    _scalars(run, '20260101_000000', [
        dict(loss=3.0, epoch=1, iter=5, step=5),
        dict(loss=2.0, epoch=1, iter=10, step=10),
        {'accuracy/top1': 40.0, 'step': 1},  # after epoch 1
        dict(loss=1.5, epoch=2, iter=20, step=20),
        {'accuracy/top1': 60.0, 'step': 2}])
    series = read_scalars(run)
    assert series['accuracy/top1'] == {10: 40.0, 20: 60.0}
    assert series['loss'] == {5: 3.0, 10: 2.0, 20: 1.5}


def test_plot_curves(tmp_path):
    runs = []
    for method, seed in (('a', 0), ('b', 0), ('b', 1)):
        run = str(tmp_path / method / str(seed))
        _scalars(run, '20260101_000000', [
            dict(loss=3.0 - seed, loss_cls=1.0, step=1),
            dict(loss=2.0 - seed, loss_cls=0.5, step=2),
            {'accuracy/top1': 50.0, 'step': 2}])
        runs.append((method, seed, run))
    path = str(tmp_path / 'curves.png')
    assert plot_curves(runs, 'accuracy/top1', path)
    with open(path, 'rb') as f:
        assert f.read(8) == PNG
    empty = str(tmp_path / 'none.png')
    assert not plot_curves([('a', 0, str(tmp_path / 'nothing'))],
                           'accuracy/top1', empty)
    assert not os.path.exists(empty)
