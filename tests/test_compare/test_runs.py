"""nd_mmdet.compare.runs: a run's job driven by hand (no process is
started): the commands it asks for, its record at each step, a failure and
the retry that resumes, the reuse of a finished run, a run dir of another
config set aside."""
import json
import os
import os.path as osp

import pytest

from nd_mmdet.compare.configs import ConfigInfo
from nd_mmdet.compare.records import read_record
from nd_mmdet.compare.runs import (Run, Settings, job, pick_score, prepare,
                                   reuse)


def _run(tmp_path, digest='d' * 64):
    info = ConfigInfo(path='/cfg/kd.py', digest=digest,
                      metric='coco/bbox_mAP', distiller=True,
                      save_best=False, teacher_ckpt=None)
    return Run('kd', 3, info, str(tmp_path / 'kd' / 'seed_3'))


def _finish(gen, result):
    with pytest.raises(StopIteration) as stop:
        gen.send(result)
    return stop.value.value


def test_failure_retry_resume_and_reuse(tmp_path):
    run = _run(tmp_path)
    settings = Settings('/tools', ['a=1'], 'coco/bbox_mAP')
    assert prepare(run) is None
    # 1. training fails
    gen = job(run, settings, None)
    train = next(gen)
    assert train.kind == 'train' and train.argv[1] == '/tools/train.py'
    assert train.argv[2:] == ['/cfg/kd.py', '--work-dir', run.run_dir,
                              '--resume', '--cfg-options', 'a=1',
                              'randomness.seed=3']
    record = read_record(run.run_dir)
    assert (record['status'], record['train_starts']) == ('running', 1)
    with open(train.log, 'w') as f:
        f.write('loading\nerror: model.x: boom\nTraceback-free end\n')
    summary = _finish(gen, (1, 2.0))
    assert summary == ('FAILED kd seed 3: training (exit 1): error: model.x: '
                       f'boom [log: {train.log}]')
    record = read_record(run.run_dir)
    assert (record['status'], record['stage'], record['returncode']) == \
        ('failed', 'training', 1)

    # 2. the rerun trains again (resuming), then evaluates
    record = prepare(run)
    assert record['status'] == 'failed' and reuse(run, record,
                                                  settings) is None
    gen = job(run, settings, record)
    assert next(gen).kind == 'train'
    assert read_record(run.run_dir)['train_starts'] == 2
    ckpt = osp.join(run.run_dir, 'iter_4.pth')
    open(ckpt, 'wb').close()
    with open(osp.join(run.run_dir, 'last_checkpoint'), 'w') as f:
        f.write(ckpt)
    metrics = osp.join(run.run_dir, 'metrics.json')
    with open(metrics, 'w') as f:
        json.dump({'coco/bbox_mAP': 0.9}, f)  # an earlier evaluation's
    test = gen.send((0, 3.0))
    assert read_record(run.run_dir)['status'] == 'trained'
    assert not osp.exists(metrics)
    assert test.kind == 'test' and test.argv[1:] == [
        '/tools/test.py', '/cfg/kd.py', ckpt, '--work-dir',
        osp.join(run.run_dir, 'eval'), '--dump-metrics', metrics,
        '--cfg-options', 'a=1'
    ]
    with open(metrics, 'w') as f:  # no box at all: CocoMetric logs no AP
        json.dump({'time': 0.5}, f)
    summary = _finish(gen, (0, 1.0))
    assert summary == ('done kd seed 3: coco/bbox_mAP 0 (no detection on '
                       'the test set: 0)')
    record = read_record(run.run_dir)
    assert (record['status'], record['score'], record['checkpoint']) == \
        ('done', 0.0, ckpt)
    assert not {'error', 'stage', 'returncode', 'log'} & set(record)
    assert (record['train_wall_s'], record['test_wall_s']) == (3.0, 1.0)

    # 3. reused as it is; evaluated again for another checkpoint choice or
    # a metric it did not keep
    assert reuse(run, prepare(run), settings)['score'] == 0.0
    assert reuse(run, record, Settings('/tools', [], 'coco/bbox_mAP',
                                       'best')) is None
    assert reuse(run, record, Settings('/tools', [],
                                       'accuracy/top1')) is None


def test_run_dir_of_another_config_is_set_aside(tmp_path):
    run = _run(tmp_path)
    gen = job(run, Settings('/tools', [], 'coco/bbox_mAP'), None)
    next(gen)
    gen.close()
    lines = []
    changed = _run(tmp_path, digest='e' * 64)
    assert prepare(changed, log=lines.append) is None
    assert not osp.exists(run.run_dir)
    assert osp.isfile(osp.join(run.run_dir + '.old1', 'compare_run.json'))
    assert 'changed since this run' in lines[0]
    # files without a record: also set aside, never resumed from
    os.makedirs(run.run_dir)
    open(osp.join(run.run_dir, 'iter_9.pth'), 'wb').close()
    assert prepare(run, log=lines.append) is None
    assert osp.isfile(osp.join(run.run_dir + '.old2', 'iter_9.pth'))
    # a record that is not one (cut, edited by hand): set aside, named
    for text, why in (('{"format": 1', 'unreadable'),
                      ('{"format": 1, "method": "kd"}', "'seed' missing")):
        os.makedirs(run.run_dir)
        with open(osp.join(run.run_dir, 'compare_run.json'), 'w') as f:
            f.write(text)
        assert prepare(run, log=lines.append) is None
        assert 'invalid record' in lines[-1] and why in lines[-1]
    assert osp.isdir(run.run_dir + '.old4')


def test_pick_score():
    assert pick_score({'accuracy/top1': 81.5}, 'accuracy/top1') == \
        (81.5, None)
    with pytest.raises(ValueError, match=r"no accuracy/top5; it reported "
                       r"\['accuracy/top1'\]"):
        pick_score({'accuracy/top1': 81.5}, 'accuracy/top5')
    # other COCO values present: a missing key is an error, not AP 0
    with pytest.raises(ValueError, match='no coco/bbox_mAP_s'):
        pick_score({'coco/bbox_mAP': 0.3}, 'coco/bbox_mAP_s')


def test_method_options_follow_the_shared_ones(tmp_path):
    """A method's own options (--method-options) come after --cfg-options
    in its training and its evaluation, before the seed."""
    info = ConfigInfo(path='/cfg/kd.py', digest='d' * 64,
                      metric='coco/bbox_mAP', distiller=True,
                      save_best=False, teacher_ckpt=None)
    run = Run('kd', 1, info, str(tmp_path / 'kd' / 'seed_1'),
              options=['model.teacher_ckpt=/t.pth', 'b=2'])
    gen = job(run, Settings('/tools', ['a=1'], 'coco/bbox_mAP'), None)
    train = next(gen)
    assert train.argv[-5:] == ['--cfg-options', 'a=1',
                               'model.teacher_ckpt=/t.pth', 'b=2',
                               'randomness.seed=1']
    open(osp.join(run.run_dir, 'iter_2.pth'), 'wb').close()
    with open(osp.join(run.run_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(run.run_dir, 'iter_2.pth'))
    test = gen.send((0, 1.0))
    assert test.kind == 'test'
    assert test.argv[-4:] == ['--cfg-options', 'a=1',
                              'model.teacher_ckpt=/t.pth', 'b=2']
    # without any option, no --cfg-options at all
    bare = Run('kd', 1, info, str(tmp_path / 'bare' / 'seed_1'))
    gen = job(bare, Settings('/tools', [], 'coco/bbox_mAP'), None)
    assert next(gen).argv[-3:] == ['--resume', '--cfg-options',
                                   'randomness.seed=1']
