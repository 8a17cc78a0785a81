# ResNet-50 -> MobileNetV2 on CIFAR-100
# Embeddings: student 1280-d, teacher 2048-d (projected for ND by the
# X++ configs).
#
# The teacher is trained first with its classifier config, and its final
# checkpoint copied (or linked) to `teacher_ckpt` below:
#   python tools/train.py configs/cifar100/classifiers/resnet50_cifar100.py
#   cp work_dirs/resnet50_cifar100/epoch_240.pth \
#      work_dirs/resnet50_cifar100/teacher.pth
# (or pass --cfg-options model.teacher_ckpt=PATH to tools/train.py).
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/cifar100/mobilenetv2.py',
    teacher='{{fileDirname}}/../../_base_/models/cifar100/resnet50.py',
    teacher_ckpt='work_dirs/resnet50_cifar100/teacher.pth',
)
# Projector of the student embedding for ND (1280 -> 2048): the X++ configs
# add it as model.connectors.student_embed (the plain X configs read no
# embedding, so they do not build it: unused parameters would break DDP).
embed_projector = dict(
    type='nd_mmdet.EmbeddingProjector', in_channels=1280, out_channels=2048)
# MobileNet / ShuffleNet students: LR 0.02 (ResNet / WRN: 0.1).
optim_wrapper = dict(optimizer=dict(lr=0.02))
