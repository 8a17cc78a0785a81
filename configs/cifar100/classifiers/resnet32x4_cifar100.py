# ResNet-32x4 trained alone on CIFAR-100: the teacher of
# ResNet-8x4, ShuffleNetV1, ShuffleNetV2.
# Train it, then copy (or link) the final checkpoint to the
# teacher_ckpt of the pair configs (configs/cifar100/_base_/pair_*):
#   python tools/train.py configs/cifar100/classifiers/resnet32x4_cifar100.py
#   cp work_dirs/resnet32x4_cifar100/epoch_240.pth \
#      work_dirs/resnet32x4_cifar100/teacher.pth
_base_ = [
    '../../_base_/models/cifar100/resnet32x4.py',
    '../../_base_/datasets/cifar100_bs64.py',
    '../../_base_/schedules/cifar100_bs128_240e.py',
    '../../_base_/default_runtime_cls.py',
]
