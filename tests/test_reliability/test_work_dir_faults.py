"""Fault catalogue: the work dir (files in the way, a second run, copies,
damaged records) and the checkpoint a resume reads."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import pytest
import torch

from nd_mmdet.utils.work_dir import (check_resume_checkpoint,
                                     lock_work_dir, prepare_work_dir,
                                     resolve_auto_resume)


@pytest.mark.clear_error
def test_work_dir_that_is_a_file(tmp_path):
    path = tmp_path / 'run'
    path.write_text('')
    with pytest.raises(ValueError, match='is a file') as info:
        prepare_work_dir(str(path))
    assert str(path) in str(info.value)


@pytest.mark.clear_error
def test_work_dir_under_a_file(tmp_path):
    (tmp_path / 'file').write_text('')
    path = str(tmp_path / 'file' / 'run')
    with pytest.raises(ValueError, match='not writable') as info:
        prepare_work_dir(path)
    assert path in str(info.value)


@pytest.mark.clear_error
def test_read_only_work_dir(tmp_path, monkeypatch):
    import builtins
    real_open = builtins.open

    def read_only_open(file, mode='r', *args, **kwargs):
        if 'w' in mode and str(file).startswith(str(tmp_path)):
            raise PermissionError(13, 'Permission denied')
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, 'open', read_only_open)
    with pytest.raises(ValueError, match='not writable.*Permission'):
        prepare_work_dir(str(tmp_path))


@pytest.mark.clear_error
def test_work_dir_on_a_read_only_file_system():
    if osp.isdir('/sys') and os.access('/sys', os.W_OK):
        try:
            os.mkdir('/sys/nd_mmdet_probe')
        except OSError:
            pass
        else:
            os.rmdir('/sys/nd_mmdet_probe')
            pytest.skip('/sys is writable here')
    with pytest.raises(ValueError, match='/sys/nd_run.*not writable'):
        prepare_work_dir('/sys/nd_run')


HOLD = ('import sys, time; from nd_mmdet.utils.work_dir import '
        'lock_work_dir; lock_work_dir(sys.argv[1]); print("held", '
        'flush=True); time.sleep(60)')


def _holder(work_dir):
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(work_dir)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'held'
    return proc


@pytest.mark.clear_error
def test_second_run_on_a_locked_work_dir_stops(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(ValueError, match='in use by another') as info:
            lock_work_dir(str(tmp_path))
        assert f'pid {proc.pid}' in str(info.value)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.survived
def test_lock_of_a_killed_run_is_released(tmp_path):
    proc = _holder(tmp_path)
    proc.kill()
    proc.wait()
    lock_work_dir(str(tmp_path))  # survived: no stale lock
    lock_work_dir(str(tmp_path))  # the same process may ask again


def _ckpt(path, epoch):
    torch.save({'meta': {'epoch': epoch}}, path)


def test_auto_resume_reads_last_checkpoint(tmp_path):
    for e in (1, 2):
        _ckpt(tmp_path / f'epoch_{e}.pth', e)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    assert resolve_auto_resume(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')


@pytest.mark.survived
def test_auto_resume_in_a_copied_work_dir_stays_in_the_copy(tmp_path):
    original = tmp_path / 'a'
    original.mkdir()
    _ckpt(original / 'epoch_1.pth', 1)
    (original / 'last_checkpoint').write_text(str(original / 'epoch_1.pth'))
    copy = tmp_path / 'b'
    shutil.copytree(original, copy)
    lines = []
    assert resolve_auto_resume(str(copy), lines.append) == \
        str(copy / 'epoch_1.pth')
    assert 'outside the work dir' in lines[0]


@pytest.mark.clear_error
def test_auto_resume_refuses_a_foreign_last_checkpoint(tmp_path):
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'last_checkpoint').write_text('/elsewhere/e_3.pth')
    with pytest.raises(ValueError, match='--resume /elsewhere/e_3.pth'):
        resolve_auto_resume(str(tmp_path / 'run'))


@pytest.mark.parametrize('record', [None, '', 'gone'])
@pytest.mark.survived
def test_auto_resume_without_a_usable_record_takes_the_newest(tmp_path,
                                                              record):
    for e in (2, 9, 10):
        _ckpt(tmp_path / f'epoch_{e}.pth', e)
    if record is not None:
        (tmp_path / 'last_checkpoint').write_text(
            str(tmp_path / 'epoch_11.pth') if record else '')
    assert resolve_auto_resume(str(tmp_path), lambda _: None) == \
        str(tmp_path / 'epoch_10.pth')


def test_auto_resume_with_nothing_to_resume(tmp_path):
    assert resolve_auto_resume(str(tmp_path)) is None


class Distiller(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.student = torch.nn.Linear(2, 2)
        self.connectors = torch.nn.Linear(2, 2)


def _resume_ckpt(state_dict, **extra):
    return dict(state_dict=state_dict, meta=dict(epoch=1), message_hub={},
                **extra)


def test_resume_checkpoint_of_the_same_model(tmp_path):
    model = Distiller()
    check_resume_checkpoint(model, _resume_ckpt(model.state_dict()), 'c')
    ddp = {f'module.{k}': v for k, v in model.state_dict().items()}
    check_resume_checkpoint(model, _resume_ckpt(ddp), 'c')


@pytest.mark.parametrize('case,message', [
    ('exported student', 'no training state'),
    ('plain student weights', 'without the distiller'),
    ('another model', 'keys missing'),
    ('no state_dict', 'holds no state_dict'),
    ('not a dict', 'holds no state_dict'),
])
@pytest.mark.clear_error
def test_resume_checkpoint_that_does_not_fit(case, message):
    model = Distiller()
    student = model.student.state_dict()
    checkpoint = {
        'exported student': dict(state_dict=model.state_dict()),
        'plain student weights': _resume_ckpt(student),
        'another model': _resume_ckpt({'fc.weight': torch.ones(1)}),
        'no state_dict': dict(meta={}, message_hub={}),
        'not a dict': [1],
    }[case]
    with pytest.raises(ValueError, match=message) as info:
        check_resume_checkpoint(model, checkpoint, '/ckpts/epoch_3.pth')
    assert '/ckpts/epoch_3.pth' in str(info.value)


class _Hub:
    def __init__(self, info):
        self.runtime_info = info

    def get_info(self, key):
        return self.runtime_info[key]


class _Runner:
    def __init__(self, work_dir, best):
        import logging
        self.work_dir = str(work_dir)
        self.message_hub = _Hub({'best_ckpt': str(best)})
        self.logger = logging.getLogger('test')


@pytest.mark.parametrize('local_copy', [False, True])
@pytest.mark.survived
def test_best_checkpoint_outside_the_work_dir_is_never_deleted(
        tmp_path, local_copy):
    from mmengine.hooks import CheckpointHook
    other = tmp_path / 'other'
    other.mkdir()
    foreign = other / 'best_accuracy_epoch_1.pth'
    foreign.write_bytes(b'keep me')
    run = tmp_path / 'run'
    run.mkdir()
    if local_copy:
        (run / foreign.name).write_bytes(b'copy')
    hook = CheckpointHook(save_best='accuracy', rule='greater')
    hook.before_train(_Runner(run, foreign))
    expected = str(run / foreign.name) if local_copy else None
    assert hook.best_ckpt_path == expected
    # What CheckpointHook removes when a better one comes is only ever
    # best_ckpt_path: the foreign file is out of its reach.
    assert foreign.read_bytes() == b'keep me'


@pytest.mark.clear_error
def test_lock_is_taken_before_anything_is_built(tmp_path, tool):
    from tests.test_reliability.tool_call import assert_one_error
    proc = _holder(tmp_path)
    try:
        start = time.time()
        result = tool('train.py',
                      'configs/cifar100/kd/kd_resnet56-resnet20_cifar100.py',
                      '--work-dir', tmp_path)
        assert_one_error(result, 'in use by another', f'pid {proc.pid}')
        assert time.time() - start < 30
        assert sorted(os.listdir(tmp_path)) == ['.nd_mmdet_train.lock']
    finally:
        proc.kill()
        proc.wait()
