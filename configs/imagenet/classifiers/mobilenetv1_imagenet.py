# MobileNetV1 on ImageNet alone, with the distillation schedule (100 epochs,
# batch 512, LR 0.2): the student baseline of ResNet-50 -> MobileNetV1.
# Needs nd_mmdet.MobileNetV1 (see the model base).
_base_ = [
    '../../_base_/models/imagenet/mobilenetv1.py',
    '../../_base_/datasets/imagenet_bs64.py',
    '../../_base_/schedules/imagenet_bs512_100e.py',
    '../../_base_/default_runtime_cls.py',
]
