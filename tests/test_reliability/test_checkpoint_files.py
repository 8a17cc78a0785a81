"""Fault catalogue: checkpoint files (writes interrupted, files damaged).

Outcomes: *survived* (the previous file intact, no temporary file left) or
*clear error* (one exception naming the file)."""
import errno
import os

import pytest
import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.runner.checkpoint import save_checkpoint

import nd_mmdet  # noqa: F401  (applies the compat workarounds)
from nd_mmdet.utils import safe_torch_load


def _write_ok(path, value):
    save_checkpoint({'state_dict': {'w': torch.full((3, ), value)}},
                    str(path))


class _Interrupted(BaseException):
    """Stands for a SIGKILL / KeyboardInterrupt in the middle of a write."""


@pytest.mark.parametrize('fault', [
    _Interrupted(),
    KeyboardInterrupt(),
    OSError(errno.ENOSPC, 'No space left on device'),
    OSError(errno.EIO, 'Input/output error'),
])
@pytest.mark.survived
def test_interrupted_checkpoint_write_keeps_the_old_file(
        tmp_path, monkeypatch, fault):
    path = tmp_path / 'epoch_1.pth'
    _write_ok(path, 1.0)
    real_fsync = os.fsync

    def failing_fsync(fd):
        real_fsync(fd)
        raise fault

    monkeypatch.setattr(os, 'fsync', failing_fsync)
    with pytest.raises(type(fault)):
        _write_ok(path, 2.0)
    monkeypatch.setattr(os, 'fsync', real_fsync)
    # Survived: the old checkpoint loads with its old value; no temp file.
    assert torch.equal(safe_torch_load(str(path))['state_dict']['w'],
                       torch.ones(3))
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth']


@pytest.mark.survived
def test_interrupted_first_write_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(os, 'replace', _raise(_Interrupted()))
    with pytest.raises(_Interrupted):
        _write_ok(tmp_path / 'epoch_1.pth', 1.0)
    assert os.listdir(tmp_path) == []


def _raise(error):
    def raiser(*args, **kwargs):
        raise error
    return raiser


def test_atomic_put_is_applied():
    assert getattr(LocalBackend.put, '_nd_mmdet_atomic', False)
    assert 'atomic-local-put' in nd_mmdet.compat.APPLIED


def _truncated(path, size):
    torch.save({'state_dict': {'w': torch.randn(1000)}}, path)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:size])


@pytest.mark.parametrize('damage,message', [
    (lambda p: open(p, 'wb').close(), 'is empty (0 bytes)'),
    (lambda p: _truncated(p, 10), 'cannot be read'),
    (lambda p: _truncated(p, 2000), 'cannot be read'),
    (lambda p: open(p, 'w').write('not a checkpoint'), 'cannot be read'),
    (lambda p: open(p, 'wb').write(b'\x80\x04junk'), 'cannot be read'),
    (lambda p: torch.save({'fn': os.system}, p), 'pickled object'),
])
@pytest.mark.clear_error
def test_damaged_checkpoint_is_one_error_naming_it(tmp_path, damage,
                                                   message):
    path = str(tmp_path / 'teacher.pth')
    damage(path)
    with pytest.raises(ValueError) as info:
        safe_torch_load(path, 'teacher checkpoint')
    text = str(info.value)
    assert path in text and message in text and '\n' not in text


@pytest.mark.clear_error
def test_missing_and_directory_checkpoints_are_named(tmp_path):
    for path in (tmp_path / 'absent.pth', tmp_path):
        with pytest.raises(FileNotFoundError, match=str(path)):
            safe_torch_load(str(path))


@pytest.mark.parametrize('content,message', [
    ([1, 2], 'holds no state dict'),
    ({'state_dict': {'other.weight': torch.ones(2)}}, 'does not match'),
    ({'state_dict': {'weight': torch.ones(3, 3), 'bias': torch.ones(2)}},
     'shape mismatches'),
])
@pytest.mark.clear_error
def test_teacher_checkpoint_of_another_model_is_refused(tmp_path, content,
                                                        message):
    from nd_mmdet.utils import load_state_dict_safely
    path = str(tmp_path / 'teacher.pth')
    torch.save(content, path)
    with pytest.raises(ValueError, match=message) as info:
        load_state_dict_safely(torch.nn.Linear(2, 2), path)
    assert path in str(info.value)
