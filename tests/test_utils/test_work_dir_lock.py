"""The work dir's training lock: held for the run, its file removed when
the run exits, and the removal safe against a second run starting."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from nd_mmdet.utils import work_dir as wd
from nd_mmdet.utils.work_dir import LOCK_NAME, lock_work_dir, unlock_work_dir

HOLD = ('import sys; from nd_mmdet.utils.work_dir import lock_work_dir; '
        'lock_work_dir(sys.argv[1]); print("held", flush=True); '
        'sys.stdin.readline()')


def _try_lock(work_dir):
    """Exit code of a second process asking for the lock (0: it got it)."""
    code = ('import sys; from nd_mmdet.utils.work_dir import lock_work_dir;'
            ' lock_work_dir(sys.argv[1])')
    return subprocess.run([sys.executable, '-c', code, str(work_dir)],
                          capture_output=True, text=True)


def test_lock_file_removed_when_the_holder_exits(tmp_path):
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(tmp_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == 'held'
        assert osp.exists(tmp_path / LOCK_NAME)
        second = _try_lock(tmp_path)
        assert second.returncode != 0
        assert 'in use by another training run' in second.stderr
        assert f'pid {proc.pid}' in second.stderr
        proc.stdin.write('\n')
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
    assert os.listdir(tmp_path) == []
    # the next run locks and, exiting, removes the file again
    assert _try_lock(tmp_path).returncode == 0
    assert os.listdir(tmp_path) == []


def test_unlock_removes_the_file_and_frees_the_lock(tmp_path):
    lock_work_dir(str(tmp_path))
    try:
        assert _try_lock(tmp_path).returncode != 0
    finally:
        unlock_work_dir(str(tmp_path))
    assert not osp.exists(tmp_path / LOCK_NAME)
    assert _try_lock(tmp_path).returncode == 0
    unlock_work_dir(str(tmp_path))  # not held: nothing happens


def test_a_lock_on_a_file_removed_meanwhile_is_taken_again(
        tmp_path, monkeypatch):
    """The race of the removal: a second run opened the lock file, the
    first run removed it and exited, then the second run's flock succeeds
    on the removed file. It must notice and lock the file the path names,
    or a third run would lock a new file beside it."""
    path = str(tmp_path / LOCK_NAME)
    real_flock = wd.fcntl.flock
    calls = []

    def flock_after_the_holder_left(fd, op):
        calls.append(os.fstat(fd).st_ino)
        if len(calls) == 1:
            os.unlink(path)  # the previous holder releases meanwhile
        return real_flock(fd, op)

    monkeypatch.setattr(wd.fcntl, 'flock', flock_after_the_holder_left)
    lock_work_dir(str(tmp_path))
    try:
        assert len(calls) == 2  # tried again on the new file
        assert os.stat(path).st_ino == calls[1]
        monkeypatch.setattr(wd.fcntl, 'flock', real_flock)
        second = _try_lock(tmp_path)
        assert second.returncode != 0, second.stderr
        assert 'in use by another training run' in second.stderr
    finally:
        unlock_work_dir(str(tmp_path))
    assert not osp.exists(path)


def test_no_lock_file_after_a_training_run(tiny_cifar_teacher):
    """``tiny_cifar_teacher`` is a one-epoch tools/train.py run."""
    work_dir = osp.dirname(tiny_cifar_teacher)
    assert osp.isfile(tiny_cifar_teacher)
    assert not osp.exists(osp.join(work_dir, LOCK_NAME))
