"""The one place for workarounds of the pinned OpenMMLab stack.

Every workaround here is listed in :data:`APPLIED` once applied (the train
and test tools print it), is documented in the README ("Install"), and can be
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
"""
import glob
import importlib.util
import logging
import os
import os.path as osp
import sys

import torch

logger = logging.getLogger('nd_mmdet')

#: Names of the workarounds applied in this process.
APPLIED = []

_TORCHVISION_SCHEMAS = (
    'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
    'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
)
# Kept alive for the life of the process: dropping a torch.library.Library
# removes the schemas it defined.
_torchvision_library = None


def _torchvision_native_lib():
    """Path of torchvision's ``_C`` extension, or None if not installed."""
    spec = importlib.util.find_spec('torchvision')
    if spec is None or spec.origin is None:
        return None
    found = glob.glob(osp.join(osp.dirname(spec.origin), '_C*.so')) + \
        glob.glob(osp.join(osp.dirname(spec.origin), '_C*.pyd'))
    return found[0] if found else None


def _has_torchvision_op(name):
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def make_torchvision_importable():
    """Declare torchvision's ``nms``/``qnms`` schemas if its ops cannot load.

    Must run before the first ``import torchvision``. Returns True when the
    shim was applied in this call, False when it was not needed or disabled.
    """
    global _torchvision_library
    if os.environ.get('ND_MMDET_NO_TORCHVISION_SHIM') == '1':
        return False
    if 'torchvision' in sys.modules or _torchvision_library is not None:
        return False
    lib_path = _torchvision_native_lib()
    if lib_path is None:
        return False
    try:
        torch.ops.load_library(lib_path)
        return False  # torchvision's own ops work: nothing to do.
    except (OSError, RuntimeError):
        pass
    missing = [s for s in _TORCHVISION_SCHEMAS
               if not _has_torchvision_op(s.split('(')[0])]
    if not missing:
        return False
    _torchvision_library = torch.library.Library('torchvision', 'FRAGMENT')
    for schema in missing:
        _torchvision_library.define(schema)
    APPLIED.append('torchvision-schema-shim')
    logger.info(
        'nd_mmdet.compat: torchvision native ops cannot load with this torch '
        'build; declared schemas %s so torchvision imports (set '
        'ND_MMDET_NO_TORCHVISION_SHIM=1 to disable).',
        [s.split('(')[0] for s in missing])
    return True


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
    if 'cpu-distributed' not in APPLIED:
        APPLIED.append('cpu-distributed')
    logger.info('nd_mmdet.compat: no CUDA; process group initialised with '
                '%s and the model wrapped with device_ids=None (set '
                'ND_MMDET_NO_CPU_DIST=1 to disable).', backend)
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


def apply_all():
    """Apply every workaround of this module (idempotent)."""
    make_torchvision_importable()
