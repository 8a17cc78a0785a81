# ResNet-32x4 -> ResNet-8x4 on CIFAR-100
# Embeddings: 256-d on both sides (no projector).
#
# The teacher is trained first with its classifier config, and its final
# checkpoint copied (or linked) to `teacher_ckpt` below:
#   python tools/train.py configs/cifar100/classifiers/resnet32x4_cifar100.py
#   cp work_dirs/resnet32x4_cifar100/epoch_240.pth \
#      work_dirs/resnet32x4_cifar100/teacher.pth
# (or pass --cfg-options model.teacher_ckpt=PATH to tools/train.py).
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/cifar100/resnet8x4.py',
    teacher='{{fileDirname}}/../../_base_/models/cifar100/resnet32x4.py',
    teacher_ckpt='work_dirs/resnet32x4_cifar100/teacher.pth',
)
