from .class_centers_hook import ClassCentersHook
from .distill_loss_stop_hook import DistillLossStopHook
from .distill_loss_warmup_hook import DistillLossWarmupHook
from .reseed_per_epoch_hook import ReseedPerEpochHook
from .training_health_hook import TrainingHealthHook

__all__ = [
    'ClassCentersHook', 'DistillLossStopHook', 'DistillLossWarmupHook',
    'ReseedPerEpochHook', 'TrainingHealthHook'
]
