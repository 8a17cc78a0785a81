# ResNet-56 -> ResNet-20 on CIFAR-100
# Embeddings: 64-d on both sides (no projector).
#
# The teacher is trained first with its classifier config, and its final
# checkpoint copied (or linked) to `teacher_ckpt` below:
#   python tools/train.py configs/cifar100/classifiers/resnet56_cifar100.py
#   cp work_dirs/resnet56_cifar100/epoch_240.pth \
#      work_dirs/resnet56_cifar100/teacher.pth
# (or pass --cfg-options model.teacher_ckpt=PATH to tools/train.py).
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/cifar100/resnet20.py',
    teacher='{{fileDirname}}/../../_base_/models/cifar100/resnet56.py',
    teacher_ckpt='work_dirs/resnet56_cifar100/teacher.pth',
)
