# ResNet-56 -> ResNet-20 (64-d embeddings on both sides: no projector).
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/cifar100/resnet20.py',
    teacher='{{fileDirname}}/../../_base_/models/cifar100/resnet56.py',
    teacher_ckpt='work_dirs/resnet56_cifar100/teacher.pth',
)
