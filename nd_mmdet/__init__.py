"""nd-mmdet: knowledge distillation with feature Norm-and-Direction (ND)
regularisation as OpenMMLab plug-ins (arXiv 2305.17007)."""
import nd_mmdet_startup

from . import compat
from .version import __version__

# Before anything imports torchvision (mmpretrain, mmengine's Runner).
compat.apply_all()
# `nd_mmdet::` config paths, also where the start-up .pth did not run (it
# registers the package without importing nd_mmdet); the start-up hooks of
# modules not imported yet (no-op when the .pth installed them).
nd_mmdet_startup.register_config_package()
nd_mmdet_startup.install()

__all__ = ['__version__', 'compat']
