# ResNet-50 trained alone on CIFAR-100: the teacher of MobileNetV2.
# Train it, then copy (or link) the final checkpoint to the
# teacher_ckpt of the pair configs (configs/cifar100/_base_/pair_*):
#   python tools/train.py configs/cifar100/classifiers/resnet50_cifar100.py
#   cp work_dirs/resnet50_cifar100/epoch_240.pth \
#      work_dirs/resnet50_cifar100/teacher.pth
_base_ = [
    '../../_base_/models/cifar100/resnet50.py',
    '../../_base_/datasets/cifar100_bs64.py',
    '../../_base_/schedules/cifar100_bs128_240e.py',
    '../../_base_/default_runtime_cls.py',
]
