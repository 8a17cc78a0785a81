# WRN-40-1 trained alone on CIFAR-100: the student baseline (no
# distillation) of WRN-40-2 -> WRN-40-1.
_base_ = [
    '../../_base_/models/cifar100/wrn40-1.py',
    '../../_base_/datasets/cifar100_bs64.py',
    '../../_base_/schedules/cifar100_bs128_240e.py',
    '../../_base_/default_runtime_cls.py',
]
