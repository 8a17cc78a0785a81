"""A training run's work dir: checked, locked, and resumed from safely.

- :func:`prepare_work_dir`: the directory exists (or is created) and a file
  can be written in it, else one error naming it, before anything is built.
- :func:`lock_work_dir`: one training run per work dir. Two runs in one
  directory share mmengine's timestamp folder and one run's logs and
  checkpoints overwrite the other's; the second run stops instead. The lock
  is an ``flock`` on ``<work_dir>/.nd_mmdet_train.lock``, released by the
  kernel when the process ends (also on a kill), so it never goes stale;
  the file is removed when the run exits normally.
- :func:`resolve_auto_resume`: the checkpoint that ``--resume`` (no path)
  continues from, never one outside the work dir without being asked.
- :func:`check_resume_checkpoint`: the checkpoint holds this model's
  weights and the training state a resume needs.
"""
import atexit
import fcntl
import glob
import os
import os.path as osp
import re
import socket
import time

from .safe_load import _strip_prefix
from .state_dict_match import KIND_WORDS, checkpoint_kind

LOCK_NAME = '.nd_mmdet_train.lock'
#: Open lock files of this process (kept open = lock held).
_HELD = {}


def prepare_work_dir(work_dir):
    """Create ``work_dir`` if needed and check a file can be written there.

    Raises:
        ValueError: naming the directory, when it is a file, cannot be
            created or is not writable.
    """
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise ValueError(f'work dir {work_dir} is a file, not a directory; '
                         'choose another --work-dir')
    try:
        os.makedirs(work_dir, exist_ok=True)
        probe = osp.join(work_dir, f'.nd_mmdet_write_probe.{os.getpid()}')
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as err:
        raise ValueError(f'work dir {work_dir} is not writable '
                         f'({err.strerror}); choose another --work-dir'
                         ) from None


def _open_locked(path, work_dir):
    """Open ``path`` and take its ``flock``; return the fd, or None when the
    file was removed or replaced by its previous holder meanwhile (the
    caller tries again on the new file)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors='replace').strip()
        os.close(fd)
        raise ValueError(
            f'work dir {work_dir} is in use by another training run '
            f'({holder or "unknown process"}); wait for it to end or choose '
            'another --work-dir') from None
    try:
        named = os.stat(path)
    except FileNotFoundError:
        named = None
    held = os.fstat(fd)
    if named is None or (named.st_dev, named.st_ino) != \
            (held.st_dev, held.st_ino):
        os.close(fd)  # we locked a file its holder unlinked on release
        return None
    return fd


def lock_work_dir(work_dir):
    """Take the work dir's training lock for the life of this process.

    The lock file is removed when the process that took it exits normally
    (:func:`unlock_work_dir`, registered with ``atexit``); a killed run
    leaves the file, but not the lock (the kernel drops an ``flock`` with
    its process). Removing a lock file is safe against a second process
    that opened it just before: that process finds, after its ``flock``,
    that the path no longer names the file it locked and starts again.

    Raises:
        ValueError: another live process holds it (its pid and start time
            are named).
    """
    key = osp.realpath(work_dir)
    if key in _HELD:
        return
    path = osp.join(work_dir, LOCK_NAME)
    fd = None
    while fd is None:
        fd = _open_locked(path, work_dir)
    os.ftruncate(fd, 0)
    os.write(fd, f'pid {os.getpid()} on {socket.gethostname()} since '
             f'{time.strftime("%Y-%m-%d %H:%M:%S")}'.encode())
    if not _HELD:
        atexit.register(_unlock_all)
    _HELD[key] = (fd, osp.abspath(path), os.getpid())


def unlock_work_dir(work_dir):
    """Release the lock :func:`lock_work_dir` took and remove its file
    (removed first, closed second: see :func:`lock_work_dir`). Nothing
    happens when this process does not hold it (a forked child holds the
    inherited descriptor but not the lock's ownership)."""
    held = _HELD.pop(osp.realpath(work_dir), None)
    if held is None:
        return
    fd, path, pid = held
    if pid == os.getpid():
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    os.close(fd)


def _unlock_all():
    for key in list(_HELD):
        unlock_work_dir(key)


def _inside(path, directory):
    return osp.dirname(osp.realpath(path)) == osp.realpath(directory)


def _step(path):
    found = re.search(r'(?:epoch|iter)_(\d+)\.pth$', path)
    return int(found.group(1)) if found else -1


def resolve_auto_resume(work_dir, log=print):
    """The checkpoint ``--resume`` without a path continues from, or None.

    ``<work_dir>/last_checkpoint`` names it. A path outside the work dir
    (a ``cp -r`` copy of a work dir, or a file edited by hand) is replaced
    by the file of the same name inside the work dir when there is one;
    otherwise the run stops (resuming another directory's run needs
    ``--resume PATH``). When ``last_checkpoint`` is missing, empty or names
    a file that is gone, the newest ``epoch_N.pth`` / ``iter_N.pth`` of the
    work dir is used (logged).

    Raises:
        ValueError: ``last_checkpoint`` points outside the work dir.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    named = ''
    if osp.isfile(record):
        with open(record, encoding='utf-8', errors='replace') as f:
            named = f.read().strip()
    if named and not _inside(named, work_dir):
        local = osp.join(work_dir, osp.basename(named))
        if osp.isfile(local):
            log(f'resume: {record} names {named}, outside the work dir; '
                f'resuming from {local} (the same file name here)')
            return local
        raise ValueError(
            f'{record} names {named}, outside the work dir {work_dir}; to '
            f'continue that run pass --resume {named}')
    if named and osp.isfile(named):
        return named
    found = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')) +
                   glob.glob(osp.join(work_dir, 'iter_*.pth')), key=_step)
    if not found:
        if named:
            log(f'resume: {record} names {named}, which does not exist, and '
                'the work dir holds no checkpoint: training starts afresh')
        return None
    if named or osp.isfile(record):
        log(f'resume: {record} is empty or names a missing file; resuming '
            f'from the newest checkpoint {found[-1]}')
    return found[-1]


def check_resume_checkpoint(model, checkpoint, path):
    """``checkpoint`` (loaded from ``path``) can resume training ``model``.

    Raises:
        ValueError: naming ``path``: no training state (``meta``,
            ``message_hub``: a weights-only or exported file), or weights
            that do not cover the model (another model, a plain checkpoint
            for a distiller).
    """
    if not isinstance(checkpoint, dict) or \
            not isinstance(checkpoint.get('state_dict'), dict):
        raise ValueError(f'--resume: {path} holds no state_dict')
    missing_state = [k for k in ('meta', 'message_hub')
                     if k not in checkpoint]
    if missing_state:
        raise ValueError(
            f'--resume: {path} has no training state ({missing_state} '
            'missing): it is a weights-only (e.g. exported) checkpoint; to '
            'start from its weights set load_from instead of resuming')
    own = model.state_dict()
    state_dict = _strip_prefix(checkpoint['state_dict'], 'module.')
    missing = sorted(set(own) - set(state_dict))
    if missing:
        kind = checkpoint_kind(model, state_dict)
        hint = {
            'teacher': ": it is the teacher's checkpoint (the teacher is "
                       'loaded from model.teacher_ckpt, never resumed)',
            'student': f': it is {KIND_WORDS["student"]}; to start the '
                       'student from it set model.student.init_cfg=dict('
                       f"type='Pretrained', checkpoint='{path}')",
        }.get(kind, '')
        raise ValueError(
            f'--resume: {path} does not hold this model\'s weights: '
            f'{len(missing)} of {len(own)} keys missing, e.g. '
            f'{missing[:3]}{hint}')
