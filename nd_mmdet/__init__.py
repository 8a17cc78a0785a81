"""nd-mmdet: knowledge distillation with feature Norm-and-Direction (ND)
regularisation as OpenMMLab plug-ins (arXiv 2305.17007)."""
from . import compat
from .version import __version__

# Before anything imports torchvision (mmpretrain, mmengine's Runner).
compat.apply_all()

__all__ = ['__version__', 'compat']
