# WRN-40-2 -> WRN-40-1 on CIFAR-100
# Embeddings: student 64-d, teacher 128-d (projected for ND by the
# X++ configs).
#
# The teacher is trained first with its classifier config, and its final
# checkpoint copied (or linked) to `teacher_ckpt` below:
#   python tools/train.py configs/cifar100/classifiers/wrn40-2_cifar100.py
#   cp work_dirs/wrn40-2_cifar100/epoch_240.pth \
#      work_dirs/wrn40-2_cifar100/teacher.pth
# (or pass --cfg-options model.teacher_ckpt=PATH to tools/train.py).
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/cifar100/wrn40-1.py',
    teacher='{{fileDirname}}/../../_base_/models/cifar100/wrn40-2.py',
    teacher_ckpt='work_dirs/wrn40-2_cifar100/teacher.pth',
)
# Projector of the student embedding for ND (64 -> 128): the X++ configs
# add it as model.connectors.student_embed (the plain X configs read no
# embedding, so they do not build it: unused parameters would break DDP).
embed_projector = dict(
    type='nd_mmdet.EmbeddingProjector', in_channels=64, out_channels=128)
