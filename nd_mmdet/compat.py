"""The one place for workarounds of the pinned OpenMMLab stack.

Every workaround here is listed in :data:`APPLIED` once applied, logged
when applied (one INFO line of the Python logger ``nd_mmdet``, through
:func:`_applied`), documented in docs/get_started.md ("Install"), and can be
turned off with an environment variable.

1. torchvision without its native ops (``ND_MMDET_NO_TORCHVISION_SHIM=1``
   turns it off). The PyPI ``torchvision`` wheel paired with the CPU ``torch``
   wheel ships a ``_C.so`` linked against CUDA libraries the CPU torch lacks,
   so it cannot load; ``import torchvision`` then dies in its meta
   registrations with ``operator torchvision::nms does not exist``. MMDetection
   and MMPretrain only need torchvision's models, datasets and transforms (the
   detection ops come from mmcv), so when, and only when, the native library
   cannot load we declare the two operator schemas (``nms``, ``qnms``) that the
   meta registrations look up. Calling them still fails loudly (no kernel),
   exactly as torchvision does without its ops. Where torchvision's ops load
   (a CUDA install), nothing is done.

2. Distributed training without CUDA (``ND_MMDET_NO_CPU_DIST=1`` turns it
   off). mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and
   hands ``device_ids=[LOCAL_RANK]`` to DDP, both of which fail on a
   machine without CUDA. When, and only when, CUDA is unavailable and the
   launcher is ``pytorch``, :func:`prepare_cpu_distributed` initialises the
   process group itself (gloo; mmengine then skips its own init) and wraps
   the model with :class:`CPUDistributedDataParallel` (``device_ids=None``).
   With CUDA, nothing is done.

3. Atomic local writes (``ND_MMDET_NO_ATOMIC_WRITE=1`` turns it off).
   mmengine's ``LocalBackend.put`` (every checkpoint the Runner saves) opens
   the final path and writes into it, so a kill, a full disk or a crash
   mid-write leaves a truncated ``epoch_N.pth`` that a later ``--resume``
   picks up. :func:`atomic_local_put` writes a temporary file in the same
   directory, flushes it to disk, then renames it over the target: the
   target is either the old file or the complete new one.

4. Checkpoint deletions stay inside the work dir
   (``ND_MMDET_NO_CKPT_GUARD=1`` turns it off). ``CheckpointHook`` takes the
   path of the previous best checkpoint from the resumed checkpoint's
   message hub and deletes that file when a better one is saved; resuming
   from a checkpoint of another work dir (or in a ``cp -r`` copy of one)
   then deletes the OTHER directory's best checkpoint.
   :func:`keep_checkpoint_deletions_local` rebases such a path onto this
   run's checkpoint directory (when a file of that name is there) or drops
   it, so nothing outside the run's own directory is ever removed.

5. Pretrained inits that load nothing stop (``ND_MMDET_NO_PRETRAINED_CHECK=1``
   turns it off). ``init_cfg=dict(type='Pretrained')`` loads non-strictly
   and only warns when the checkpoint's keys miss the module's;
   :func:`check_pretrained_loads` wraps mmengine's ``load_state_dict``
   while a ``PretrainedInit`` runs so that a checkpoint loading under half
   of the module's weights is an error with the counts
   (:func:`nd_mmdet.utils.load_from_check.check_pretrained_load`).

6. Images that cannot be decoded name the file (``ND_MMDET_NO_IMAGE_CHECK=1``
   turns it off). mmcv's ``LoadImageFromFile`` asserts (a traceback) on an
   undecodable file, and OpenCV turns a truncated JPEG into a partly grey
   image. :func:`check_image_loading` (called when the tools build the
   Runner) refuses truncated JPEG / PNG bytes and makes both a one-line
   error naming the file (:mod:`nd_mmdet.utils.image_check`).
"""
import logging
import os
import os.path as osp

import nd_mmdet_startup
import torch

logger = logging.getLogger('nd_mmdet')

#: Names of the workarounds applied in this process.
APPLIED = []


def _applied(name, what, switch):
    """Record workaround ``name`` in :data:`APPLIED` and log one INFO line
    saying ``what`` it does and the variable ``switch`` that turns it off."""
    APPLIED.append(name)
    logger.info('nd_mmdet.compat: %s applied: %s (set %s=1 to disable).',
                name, what, switch)

def make_torchvision_importable():
    """Declare torchvision's ``nms``/``qnms`` schemas if its ops cannot load.

    Must run before the first ``import torchvision``. The logic lives in
    ``nd_mmdet_startup``, whose start-up hook also runs it before the first
    ``import torchvision`` of any process (without importing nd_mmdet).
    Returns True when the shim was applied in this call, False when it was
    not needed, disabled or applied before; :data:`APPLIED` lists it when it
    is in effect in this process.
    """
    declared = nd_mmdet_startup.make_torchvision_importable()
    if nd_mmdet_startup.torchvision_shim_applied() and \
            'torchvision-schema-shim' not in APPLIED:
        _applied('torchvision-schema-shim',
                 'torchvision native ops cannot load with this torch build; '
                 f'declared schemas {declared or ["nms", "qnms"]} so '
                 'torchvision imports', 'ND_MMDET_NO_TORCHVISION_SHIM')
    return bool(declared)


def prepare_cpu_distributed(cfg):
    """Make ``cfg`` (launcher ``pytorch``) run distributed on CPU processes.

    Returns True when applied. Raises ValueError for other launchers on a
    machine without CUDA (mmengine's slurm / mpi set-up needs CUDA).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available() or \
            os.environ.get('ND_MMDET_NO_CPU_DIST') == '1':
        return False
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs CUDA; on CPU use '
                         'tools/dist_train.sh (the pytorch launcher)')
    import torch.distributed as torch_dist
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get(
        'backend', 'gloo')
    if backend == 'nccl':
        backend = 'gloo'  # nccl needs CUDA
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend=backend)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'nd_mmdet.CPUDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if 'cpu-distributed' in APPLIED:
        APPLIED.remove('cpu-distributed')
    _applied('cpu-distributed',
             f'no CUDA; process group initialised with {backend} and the '
             'model wrapped with device_ids=None', 'ND_MMDET_NO_CPU_DIST')
    return True


def _register_cpu_ddp():
    from mmengine.model import MMDistributedDataParallel

    from nd_mmdet.registry import MODEL_WRAPPERS

    @MODEL_WRAPPERS.register_module(force=True)
    class CPUDistributedDataParallel(MMDistributedDataParallel):
        """mmengine's DDP wrapper with ``device_ids`` dropped on CPU
        modules (the Runner always passes ``[LOCAL_RANK]``)."""

        def __init__(self, module, device_ids=None, **kwargs):
            on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
            super().__init__(
                module=module, device_ids=None if on_cpu else device_ids,
                **kwargs)

    return CPUDistributedDataParallel


CPUDistributedDataParallel = _register_cpu_ddp()


def current_umask():
    """The process's file mode creation mask, read without changing it.

    Linux reports it in ``/proc/self/status`` (``Umask:``, since 4.7);
    reading it there is thread-safe. Elsewhere the mask is read with the
    ``os.umask`` set-and-restore pair, which briefly changes it for every
    thread of the process.
    """
    try:
        with open('/proc/self/status', encoding='ascii') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _final_mode(filepath):
    """The mode a plain ``open(filepath, 'wb')`` leaves ``filepath`` with:
    the existing file's mode when it is replaced, else ``0o666 & ~umask``."""
    try:
        return os.stat(filepath).st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


def atomic_write_bytes(obj, filepath):
    """Write ``obj`` to ``filepath`` through a temporary file + rename.

    The file gets the mode mmengine's plain write would give it (see
    :func:`_final_mode`; the temporary file itself is created private).
    """
    import tempfile
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fchmod(f.fileno(), _final_mode(filepath))
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_local_put():
    """Make mmengine's ``LocalBackend.put`` write atomically (see 3.)."""
    from mmengine.fileio.backends import LocalBackend
    if os.environ.get('ND_MMDET_NO_ATOMIC_WRITE') == '1' or \
            getattr(LocalBackend.put, '_nd_mmdet_atomic', False):
        return False

    def put(self, obj, filepath):
        atomic_write_bytes(obj, str(filepath))

    put._nd_mmdet_atomic = True
    put.__doc__ = LocalBackend.put.__doc__
    LocalBackend.put = put
    _applied('atomic-local-put',
             "mmengine's LocalBackend.put (checkpoints) writes a temporary "
             'file and renames it over the target', 'ND_MMDET_NO_ATOMIC_WRITE')
    return True


def _local_path(path, out_dir):
    """``path`` if it lies in ``out_dir``; else the file of the same name in
    ``out_dir`` if there is one; else None."""
    if not path:
        return path
    out_dir = osp.realpath(str(out_dir))
    real = osp.realpath(str(path))
    if osp.dirname(real) == out_dir:
        return path
    candidate = osp.join(out_dir, osp.basename(str(path)))
    return candidate if osp.exists(candidate) else None


def keep_checkpoint_deletions_local():
    """Rebase or drop best-checkpoint paths that point outside the run's
    checkpoint directory before ``CheckpointHook`` may delete them (4.)."""
    from mmengine.hooks import CheckpointHook
    if os.environ.get('ND_MMDET_NO_CKPT_GUARD') == '1' or \
            getattr(CheckpointHook.before_train, '_nd_mmdet_guard', False):
        return False
    original = CheckpointHook.before_train

    def before_train(self, runner):
        original(self, runner)
        if getattr(self, 'best_ckpt_path', None):
            kept = _local_path(self.best_ckpt_path, self.out_dir)
            if kept != self.best_ckpt_path:
                runner.logger.warning(
                    f'resume: the previous best checkpoint '
                    f'{self.best_ckpt_path} is outside {self.out_dir}; it '
                    'will not be deleted by this run')
                self.best_ckpt_path = kept
        for key, path in list(
                (getattr(self, 'best_ckpt_path_dict', None) or {}).items()):
            self.best_ckpt_path_dict[key] = _local_path(path, self.out_dir)

    before_train._nd_mmdet_guard = True
    CheckpointHook.before_train = before_train
    _applied('checkpoint-deletion-guard',
             "CheckpointHook deletes a resumed run's previous best "
             "checkpoint only inside this run's directory",
             'ND_MMDET_NO_CKPT_GUARD')
    return True


def check_pretrained_loads():
    """Check what each ``Pretrained`` init loads (see 5.)."""
    import mmengine.runner.checkpoint as checkpoint
    from mmengine.model.weight_init import PretrainedInit
    if os.environ.get('ND_MMDET_NO_PRETRAINED_CHECK') == '1' or \
            getattr(PretrainedInit.__call__, '_nd_mmdet_checked', False):
        return False
    call, load = PretrainedInit.__call__, checkpoint.load_state_dict
    running = []

    def __call__(self, module):
        running.append(self.checkpoint)
        try:
            return call(self, module)
        finally:
            running.pop()

    def load_state_dict(module, state_dict, strict=False, logger=None):
        if running and not strict:
            from mmengine.model import is_model_wrapper

            from nd_mmdet.utils.load_from_check import check_pretrained_load
            check_pretrained_load(
                module.module if is_model_wrapper(module) else module,
                state_dict, running[-1])
        return load(module, state_dict, strict, logger)

    __call__._nd_mmdet_checked = True
    PretrainedInit.__call__ = __call__
    checkpoint.load_state_dict = load_state_dict
    _applied('pretrained-load-check',
             "a Pretrained init that loads under half of its module's "
             'weights stops with the counts', 'ND_MMDET_NO_PRETRAINED_CHECK')
    return True


def check_image_loading():
    """Decode failures and truncated images name the file (see 6.)."""
    import mmcv
    from mmcv.transforms import LoadImageFromFile

    from nd_mmdet.utils.image_check import (checked_imfrombytes,
                                            checked_transform)
    if os.environ.get('ND_MMDET_NO_IMAGE_CHECK') == '1' or \
            getattr(LoadImageFromFile.transform, '_nd_mmdet_checked', False):
        return False
    mmcv.imfrombytes = checked_imfrombytes(mmcv.imfrombytes)
    LoadImageFromFile.transform = checked_transform(
        LoadImageFromFile.transform)
    _applied('image-load-check',
             'an image that cannot be decoded, or is cut short, is one error '
             'naming its file', 'ND_MMDET_NO_IMAGE_CHECK')
    return True


def apply_all():
    """Apply every workaround of this module (idempotent)."""
    make_torchvision_importable()
    atomic_local_put()
    keep_checkpoint_deletions_local()
    check_pretrained_loads()
