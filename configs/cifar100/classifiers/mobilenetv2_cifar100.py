# MobileNetV2 trained alone on CIFAR-100: the student baseline (no
# distillation) of ResNet-50 -> MobileNetV2.
_base_ = [
    '../../_base_/models/cifar100/mobilenetv2.py',
    '../../_base_/datasets/cifar100_bs64.py',
    '../../_base_/schedules/cifar100_bs128_240e.py',
    '../../_base_/default_runtime_cls.py',
]
# MobileNet / ShuffleNet: LR 0.02 (ResNet / WRN: 0.1).
optim_wrapper = dict(optimizer=dict(lr=0.02))
