# DIST++ = DIST + ND (weight 3.0) on the student embedding
# projected 960 -> 256 (the projector of the pair base).
_base_ = ['../dist/dist_resnet32x4-shufflenetv1_cifar100.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=3.0)))
