from .class_centers_hook import ClassCentersHook
from .distill_loss_warmup_hook import DistillLossWarmupHook

__all__ = ['ClassCentersHook', 'DistillLossWarmupHook']
