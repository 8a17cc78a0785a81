"""Engine plug-ins: hooks and the class-centre pre-pass."""
from .class_centers import (compute_class_centers, load_class_centers,
                            prepare_class_centers, save_class_centers)
from .hooks import (ClassCentersHook, DistillLossStopHook,
                    DistillLossWarmupHook, ReseedPerEpochHook,
                    TrainingHealthHook)

__all__ = [
    'ClassCentersHook', 'DistillLossStopHook', 'DistillLossWarmupHook',
    'ReseedPerEpochHook', 'TrainingHealthHook',
    'compute_class_centers',
    'load_class_centers', 'save_class_centers', 'prepare_class_centers'
]
