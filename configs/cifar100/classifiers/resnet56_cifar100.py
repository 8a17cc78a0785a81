# ResNet-56 trained alone on CIFAR-100 (teacher of ResNet-20).
_base_ = [
    '../../_base_/models/cifar100/resnet56.py',
    '../../_base_/datasets/cifar100_bs64.py',
    '../../_base_/schedules/cifar100_bs128_240e.py',
    '../../_base_/default_runtime_cls.py',
]
