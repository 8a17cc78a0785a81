"""nd-mmdet: knowledge distillation with feature Norm-and-Direction (ND)
regularisation as OpenMMLab plug-ins (arXiv 2305.17007)."""
import nd_mmdet_startup

from .mmcv_check import check_mmcv

# mmcv is not a pip requirement (a source build): one line where it is
# missing, of another version or without its ops (as MMDetection checks).
check_mmcv()

from . import compat  # noqa: E402
from .version import __version__  # noqa: E402

# Before anything imports torchvision (mmpretrain, mmengine's Runner).
compat.apply_all()
# `nd_mmdet::` config paths, also where the start-up .pth did not run (it
# registers the package without importing nd_mmdet); the start-up hooks of
# modules not imported yet (no-op when the .pth installed them).
nd_mmdet_startup.register_config_package()
nd_mmdet_startup.install()

__all__ = ['__version__', 'compat']
