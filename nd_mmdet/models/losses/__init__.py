"""Distillation losses, registered in :data:`nd_mmdet.registry.MODELS`."""
from .binary_kd_loss import BinaryKDLoss
from .cwd_loss import CWDLoss
from .dist_loss import DISTLoss
from .dkd_loss import DKDLoss
from .hcl_loss import HCLLoss
from .kd_loss import KDLoss
from .nd_loss import NDLoss
from .pkd_loss import PKDLoss

__all__ = ['NDLoss', 'KDLoss', 'DKDLoss', 'DISTLoss', 'HCLLoss',
           'BinaryKDLoss', 'PKDLoss', 'CWDLoss']
